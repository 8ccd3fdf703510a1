-- keras.layers.pooling (being written)
return {}
