-- keras.layers.rnn (being written)
return {}
