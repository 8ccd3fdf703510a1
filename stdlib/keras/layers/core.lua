-- keras.layers.core (being written)
return {}
