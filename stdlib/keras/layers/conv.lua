-- keras.layers.conv (being written)
return {}
