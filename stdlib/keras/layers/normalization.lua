-- keras.layers.normalization (being written)
return {}
