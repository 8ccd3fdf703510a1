-- keras.docs: help() text for Keras classes whose modules carry no __doc
-- (layers, initializers, regularizers, constraints, optimizers, models,
-- callbacks, utils). Loaded by tlua.help only when help() is asked about a
-- keras object, never by the library itself, so it costs nothing at run time.
--
-- One entry per public path: "signature\ndescription" (the first line is
-- what a namespace listing shows). Signatures show positional sugar first,
-- then the options table with defaults; `opt=` without a value means
-- optional, no default. Classes whose module sets __doc (keras.losses,
-- keras.metrics) are described there. tests/spec/keras_help_spec.lua checks
-- that every path here exists and every public class has some text: an
-- entry for an API that does not exist fails the spec.
-- Optimizer signatures are built from the class's own spec (tlua.help), so
-- only their description lives here.
local L = "keras.layers."
local base = "  Base options of every layer: name=, trainable=true, dtype='float32', input_shape=, "
  .. "batch_input_shape=, input_dim=, activity_regularizer=."

local M = {
  -- ---- layers -------------------------------------------------------------
  [L .. "Layer"] = "keras.layers.Layer{name=, trainable=true, dtype='float32', dynamic=false, input_shape=}\n"
    .. "  Base class. Subclass: local My = keras.layers.Layer:extend('My'); My:init(opts) calls My.super.init(self, opts);\n"
    .. "  build(input_shape) creates weights with self:add_weight{name=, shape=, initializer=, regularizer=, constraint=, trainable=};\n"
    .. "  call(inputs, opts) (opts = {training=, mask=} or nil); compute_output_shape; get_config.\n"
    .. "  Properties: weights, trainable_weights, non_trainable_weights, losses, metrics, layers, built, trainable.",
  [L .. "InputSpec"] = "keras.layers.InputSpec{ndim=, min_ndim=, max_ndim=, axes={[-1]=784}, shape=, dtype=}\n"
    .. "  Set self.input_spec in init or build: each call checks the inputs' rank, dtype and sizes (0-based axes).",
  [L .. "Dense"] = "keras.layers.Dense(units, {activation=, use_bias=true, kernel_initializer='glorot_uniform', "
    .. "bias_initializer='zeros', kernel_regularizer=, bias_regularizer=, kernel_constraint=, bias_constraint=})\n"
    .. "  activation(inputs @ kernel + bias) over the last axis; weights kernel [in, units], bias [units].\n" .. base,
  [L .. "Dropout"] = "keras.layers.Dropout(rate, {noise_shape=, seed=})\n"
    .. "  Zeroes a fraction `rate` of the inputs and scales the rest by 1/(1-rate), only when called with {training=true}.",
  [L .. "GaussianNoise"] = "keras.layers.GaussianNoise(stddev, {seed=})\n"
    .. "  Adds N(0, stddev^2) noise, only when called with {training=true}.",
  [L .. "Flatten"] = "keras.layers.Flatten{data_format='channels_last'}\n"
    .. "  [batch, d1, d2, ...] -> [batch, d1*d2*...].",
  [L .. "Reshape"] = "keras.layers.Reshape(target_shape)\n"
    .. "  Reshapes each sample to target_shape (a list, without the batch dimension; one entry may be -1).",
  [L .. "Activation"] = "keras.layers.Activation(activation)\n"
    .. "  Applies an activation (a name such as 'relu' or a function) element-wise.",
  [L .. "ReLU"] = "keras.layers.ReLU({max_value=nil, negative_slope=0, threshold=0})\n"
    .. "  relu with a cap, a slope below the threshold and a threshold (keras.activations.relu's options).",
  [L .. "LeakyReLU"] = "keras.layers.LeakyReLU({negative_slope=0.3})\n"
    .. "  x for x >= 0, negative_slope * x below.",
  [L .. "ELU"] = "keras.layers.ELU({alpha=1.0})\n"
    .. "  x for x > 0, alpha * (exp(x) - 1) below.",
  [L .. "Softmax"] = "keras.layers.Softmax({axis=-1})\n"
    .. "  softmax along axis.",
  [L .. "Embedding"] = "keras.layers.Embedding(input_dim, output_dim, {embeddings_initializer='uniform', mask_zero=false, "
    .. "embeddings_regularizer=, embeddings_constraint=, input_length=, weights=})\n"
    .. "  Looks up rows of an [input_dim, output_dim] table for integer (0-based) indices; mask_zero masks index 0.",
  [L .. "Lambda"] = "keras.layers.Lambda(fn, {output_shape=, mask=, arguments=})\n"
    .. "  Wraps fn(inputs[, arguments]) as a layer. Saving stores fn's name: define it as `local function name(x)`.",
  [L .. "RepeatVector"] = "keras.layers.RepeatVector(n)\n  [batch, features] -> [batch, n, features].",
  [L .. "Permute"] = "keras.layers.Permute(dims)\n"
    .. "  Permutes the axes after the batch: dims {2, 1} swaps axes 1 and 2 (axis 0 is the batch, as in Keras).",
  [L .. "Masking"] = "keras.layers.Masking{mask_value=0.0}\n"
    .. "  Masks the time steps whose features all equal mask_value (the mask reaches RNN layers in models).",
  [L .. "ActivityRegularization"] = "keras.layers.ActivityRegularization{l1=0.0, l2=0.0}\n"
    .. "  Identity that adds l1*sum|x| + l2*sum x^2 (divided by the batch size) to layer.losses.",
  [L .. "Identity"] = "keras.layers.Identity()\n  Returns its inputs unchanged.",
  [L .. "BatchNormalization"] = "keras.layers.BatchNormalization{axis=-1, momentum=0.99, epsilon=1e-3, center=true, scale=true, "
    .. "beta_initializer='zeros', gamma_initializer='ones', moving_mean_initializer='zeros', moving_variance_initializer='ones'}\n"
    .. "  {training=true}: batch statistics, moving statistics updated; otherwise the moving statistics are used.",
  [L .. "LayerNormalization"] = "keras.layers.LayerNormalization{axis=-1, epsilon=1e-3, center=true, scale=true, "
    .. "beta_initializer='zeros', gamma_initializer='ones'}\n"
    .. "  Normalises each example over `axis` (an integer or a list of 0-based axes).",
  [L .. "Add"] = "keras.layers.Add()\n  layer({a, b, ...}): element-wise sum of a list of tensors (broadcasting as Keras).",
  [L .. "Subtract"] = "keras.layers.Subtract()\n  layer({a, b}): a - b.",
  [L .. "Multiply"] = "keras.layers.Multiply()\n  layer({a, b, ...}): element-wise product.",
  [L .. "Average"] = "keras.layers.Average()\n  layer({a, b, ...}): element-wise mean.",
  [L .. "Maximum"] = "keras.layers.Maximum()\n  layer({a, b, ...}): element-wise maximum.",
  [L .. "Minimum"] = "keras.layers.Minimum()\n  layer({a, b, ...}): element-wise minimum.",
  [L .. "Concatenate"] = "keras.layers.Concatenate{axis=-1}\n  layer({a, b, ...}): concatenation along a 0-based axis.",
  [L .. "LSTM"] = "keras.layers.LSTM(units, {activation='tanh', recurrent_activation='sigmoid', use_bias=true, "
    .. "kernel_initializer='glorot_uniform', recurrent_initializer='orthogonal', bias_initializer='zeros', unit_forget_bias=true, "
    .. "dropout=0, recurrent_dropout=0, return_sequences=false, return_state=false, go_backwards=false, seed=})\n"
    .. "  Inputs [batch, time, features]; call options {training=, mask=, initial_state={h, c}}; "
    .. "return_state gives the list {output, h, c}.",
  [L .. "GRU"] = "keras.layers.GRU(units, {activation='tanh', recurrent_activation='sigmoid', use_bias=true, reset_after=true, "
    .. "dropout=0, recurrent_dropout=0, return_sequences=false, return_state=false, go_backwards=false, seed=})\n"
    .. "  Inputs [batch, time, features]; call options {training=, mask=, initial_state={h}}; "
    .. "return_state gives the list {output, h}.",

  -- ---- initializers ---------------------------------------------------------
  ["keras.initializers.Initializer"] = "keras.initializers.Initializer\n"
    .. "  Base class: subclasses define __call(shape, dtype) returning a tensor and get_config().",
  ["keras.initializers.Zeros"] = "keras.initializers.Zeros()\n  init(shape[, dtype]) -> zeros.",
  ["keras.initializers.Ones"] = "keras.initializers.Ones()\n  init(shape[, dtype]) -> ones.",
  ["keras.initializers.Constant"] = "keras.initializers.Constant(value)\n  init(shape[, dtype]) -> a tensor filled with value.",
  ["keras.initializers.RandomNormal"] = "keras.initializers.RandomNormal{mean=0.0, stddev=0.05, seed=}\n"
    .. "  Normal values; a seeded initializer returns the same values at each call.",
  ["keras.initializers.RandomUniform"] = "keras.initializers.RandomUniform{minval=-0.05, maxval=0.05, seed=}\n  Uniform values.",
  ["keras.initializers.TruncatedNormal"] = "keras.initializers.TruncatedNormal{mean=0.0, stddev=0.05, seed=}\n"
    .. "  Normal values redrawn beyond two standard deviations.",
  ["keras.initializers.VarianceScaling"] = "keras.initializers.VarianceScaling{scale=1.0, mode='fan_in', "
    .. "distribution='truncated_normal', seed=}\n  scale / fan (fan_in, fan_out or fan_avg); truncated_normal, untruncated_normal or uniform.",
  ["keras.initializers.GlorotUniform"] = "keras.initializers.GlorotUniform{seed=}\n  Uniform in +-sqrt(6 / (fan_in + fan_out)) (Dense's default kernel).",
  ["keras.initializers.GlorotNormal"] = "keras.initializers.GlorotNormal{seed=}\n  Truncated normal, stddev sqrt(2 / (fan_in + fan_out)).",
  ["keras.initializers.HeUniform"] = "keras.initializers.HeUniform{seed=}\n  Uniform in +-sqrt(6 / fan_in).",
  ["keras.initializers.HeNormal"] = "keras.initializers.HeNormal{seed=}\n  Truncated normal, stddev sqrt(2 / fan_in).",
  ["keras.initializers.LecunUniform"] = "keras.initializers.LecunUniform{seed=}\n  Uniform in +-sqrt(3 / fan_in).",
  ["keras.initializers.LecunNormal"] = "keras.initializers.LecunNormal{seed=}\n  Truncated normal, stddev sqrt(1 / fan_in).",
  ["keras.initializers.Orthogonal"] = "keras.initializers.Orthogonal{gain=1.0, seed=}\n  A random orthogonal matrix times gain.",
  ["keras.initializers.Identity"] = "keras.initializers.Identity{gain=1.0}\n  The identity matrix times gain (2-D shapes).",

  -- ---- regularizers and constraints -----------------------------------------
  ["keras.regularizers.Regularizer"] = "keras.regularizers.Regularizer\n"
    .. "  Base class: subclasses define call(x) returning a scalar tensor and get_config().",
  ["keras.regularizers.L1"] = "keras.regularizers.L1(l1=0.01)\n  reg(w) = l1 * sum(|w|).",
  ["keras.regularizers.L2"] = "keras.regularizers.L2(l2=0.01)\n  reg(w) = l2 * sum(w^2).",
  ["keras.regularizers.L1L2"] = "keras.regularizers.L1L2{l1=0.0, l2=0.0}\n  reg(w) = l1 * sum(|w|) + l2 * sum(w^2).",
  ["keras.constraints.Constraint"] = "keras.constraints.Constraint\n"
    .. "  Base class: subclasses define __call(w) returning the projected tensor and get_config().",
  ["keras.constraints.MaxNorm"] = "keras.constraints.MaxNorm{max_value=2, axis=0}\n"
    .. "  Rescales slices along axis (0-based) whose norm exceeds max_value; applied after each optimizer step by fit.",
  ["keras.constraints.NonNeg"] = "keras.constraints.NonNeg()\n  Sets negative weights to zero.",
  ["keras.constraints.UnitNorm"] = "keras.constraints.UnitNorm{axis=0}\n  Rescales slices to unit norm.",
  ["keras.constraints.MinMaxNorm"] = "keras.constraints.MinMaxNorm{min_value=0.0, max_value=1.0, rate=1.0, axis=0}\n"
    .. "  Keeps slice norms within [min_value, max_value].",

  -- ---- optimizers (signatures come from each class's spec) -------------------
  ["keras.optimizers.Optimizer"] = "keras.optimizers.Optimizer\n"
    .. "  Base class: opt:apply_gradients(grads, vars), opt:minimize(loss_fn, vars), opt.iterations, get_config, get_state/set_state.",
  ["keras.optimizers.SGD"] = "Gradient descent with optional (Nesterov) momentum.",
  ["keras.optimizers.RMSprop"] = "Divides the gradient by a running root mean square.",
  ["keras.optimizers.Adam"] = "Adam: adaptive first and second moments.",
  ["keras.optimizers.AdamW"] = "Adam with decoupled weight decay.",
  ["keras.optimizers.Nadam"] = "Adam with Nesterov momentum.",
  ["keras.optimizers.Adamax"] = "Adam with the infinity norm.",
  ["keras.optimizers.Adagrad"] = "Per-parameter learning rates from accumulated squared gradients.",
  ["keras.optimizers.Adadelta"] = "Adagrad with a running window of updates.",
  ["keras.optimizers.Ftrl"] = "Follow the regularized leader.",
  ["keras.optimizers.Lion"] = "Sign-based momentum updates (EvoLved Sign Momentum).",
  -- ---- convolution and pooling ------------------------------------------------
  [L .. "Conv2D"] = "keras.layers.Conv2D(filters, kernel_size, strides=1, padding='valid', {dilation_rate=1, activation=, "
    .. "use_bias=true, kernel_initializer='glorot_uniform', bias_initializer='zeros', data_format='channels_last', "
    .. "kernel_regularizer=, bias_regularizer=, kernel_constraint=, bias_constraint=})\n"
    .. "  2-D convolution of NHWC inputs; kernel (kh, kw, in, filters); padding 'valid' or 'same'.",
  [L .. "Conv1D"] = "keras.layers.Conv1D(filters, kernel_size, strides=1, padding='valid', {dilation_rate=1, activation=, "
    .. "use_bias=true, data_format='channels_last'})\n"
    .. "  1-D convolution of [batch, steps, channels]; padding 'valid', 'same' or 'causal'.",
  [L .. "Conv2DTranspose"] = "keras.layers.Conv2DTranspose(filters, kernel_size, strides=1, padding='valid', "
    .. "{output_padding=, dilation_rate=1, activation=, use_bias=true})\n"
    .. "  Transposed 2-D convolution; kernel (kh, kw, filters, in).",
  [L .. "DepthwiseConv2D"] = "keras.layers.DepthwiseConv2D(kernel_size, strides=1, padding='valid', {depth_multiplier=1, "
    .. "dilation_rate=1, activation=, use_bias=true, depthwise_initializer='glorot_uniform'})\n"
    .. "  One filter per input channel (times depth_multiplier); depthwise_kernel (kh, kw, in, depth_multiplier).",
  [L .. "MaxPooling2D"] = "keras.layers.MaxPooling2D(pool_size=2, strides=pool_size, padding='valid', data_format=)\n"
    .. "  Maximum over pool_size windows of NHWC inputs (alias MaxPool2D).",
  [L .. "AveragePooling2D"] = "keras.layers.AveragePooling2D(pool_size=2, strides=pool_size, padding='valid', data_format=)\n"
    .. "  Mean over pool_size windows of NHWC inputs (alias AvgPool2D).",
  [L .. "MaxPooling1D"] = "keras.layers.MaxPooling1D(pool_size=2, strides=pool_size, padding='valid', data_format=)\n"
    .. "  Maximum over windows of [batch, steps, channels] (alias MaxPool1D).",
  [L .. "AveragePooling1D"] = "keras.layers.AveragePooling1D(pool_size=2, strides=pool_size, padding='valid', data_format=)\n"
    .. "  Mean over windows of [batch, steps, channels] (alias AvgPool1D).",
  [L .. "GlobalAveragePooling2D"] = "keras.layers.GlobalAveragePooling2D(data_format=, {keepdims=false})\n"
    .. "  Mean over the spatial axes: [batch, h, w, c] -> [batch, c] (alias GlobalAvgPool2D).",
  [L .. "GlobalMaxPooling2D"] = "keras.layers.GlobalMaxPooling2D(data_format=, {keepdims=false})\n"
    .. "  Maximum over the spatial axes (alias GlobalMaxPool2D).",
  [L .. "GlobalAveragePooling1D"] = "keras.layers.GlobalAveragePooling1D(data_format=, {keepdims=false})\n"
    .. "  Mean over the steps (alias GlobalAvgPool1D).",
  [L .. "GlobalMaxPooling1D"] = "keras.layers.GlobalMaxPooling1D(data_format=, {keepdims=false})\n"
    .. "  Maximum over the steps (alias GlobalMaxPool1D).",

  -- ---- models -------------------------------------------------------------------
  ["keras.Sequential"] = "keras.Sequential({layer, ...}, {name=})  (also keras.Sequential{layer, ...})\n"
    .. "  A stack of layers: model:add(layer), model:pop(); give input_shape to the first layer to build it at once.\n"
    .. "  Then model:compile{optimizer=, loss=, metrics=}, model:fit(x, y, {epochs=, batch_size=, validation_split=, "
    .. "callbacks=}), evaluate, predict, summary(), save(path).",
  ["keras.Model"] = "keras.Model{inputs=, outputs=, name=}  or subclass: keras.Model:extend(name) with init and call\n"
    .. "  Functional models from keras.Input tensors (several inputs/outputs, skip connections), or subclassed models;\n"
    .. "  compile, fit, evaluate, predict, train_on_batch, test_on_batch, predict_on_batch, summary, get_layer, save.",
  ["keras.Input"] = "keras.Input{shape=, dtype='float32', name=, batch_size=}  (also keras.Input({784}))\n"
    .. "  A symbolic KerasTensor (batch dimension unknown: nil) to call layers on for keras.Model{inputs=, outputs=}.",
  ["keras.models.Functional"] = "keras.models.Functional\n  The class of keras.Model{inputs=, outputs=} (configs say 'Functional', as Keras's).",
  ["keras.models.InputLayer"] = "keras.models.InputLayer{shape=, batch_size=, dtype=, name=}\n  The layer behind keras.Input.",
  ["keras.models.KerasTensor"] = "keras.models.KerasTensor\n"
    .. "  A symbolic tensor: .shape (TensorShape, nil batch), .dtype; call layers on it (no arithmetic operators).",
  ["keras.models.load_model"] = "keras.models.load_model(path, {custom_objects=, compile=true})\n"
    .. "  Loads a model saved by model:save(path): architecture, weights, compile settings, optimizer state.",

  -- ---- callbacks and utils ------------------------------------------------------
  ["keras.callbacks.Callback"] = "keras.callbacks.Callback\n"
    .. "  Base class: override on_epoch_begin/end(epoch, logs), on_train_batch_begin/end(batch, logs), on_train_begin/end, "
    .. "on_test_*, on_predict_*; self.model is set by fit (epochs and batches 0-based).",
  ["keras.callbacks.CallbackList"] = "keras.callbacks.CallbackList\n  What fit/evaluate/predict call: a list of callbacks.",
  ["keras.callbacks.History"] = "keras.callbacks.History()\n  Returned by fit: history.history.<name> lists, history.epoch, history:plot().",
  ["keras.callbacks.ProgbarLogger"] = "keras.callbacks.ProgbarLogger{count_mode='steps', stateful_metrics=}\n"
    .. "  The progress bar fit adds for verbose 1 or 2.",
  ["keras.callbacks.EarlyStopping"] = "keras.callbacks.EarlyStopping{monitor='val_loss', min_delta=0, patience=0, verbose=0, "
    .. "mode='auto', baseline=, restore_best_weights=false, start_from_epoch=0}\n"
    .. "  Stops fit when the monitored value stops improving.",
  ["keras.callbacks.ModelCheckpoint"] = "keras.callbacks.ModelCheckpoint(filepath, {monitor='val_loss', verbose=0, "
    .. "save_best_only=false, save_weights_only=false, mode='auto', save_freq='epoch', initial_value_threshold=})\n"
    .. "  Saves the model (or its weights) after each epoch; filepath may contain {epoch} and {val_loss:.2f}-style fields.",
  ["keras.callbacks.LearningRateScheduler"] = "keras.callbacks.LearningRateScheduler(schedule, {verbose=0})\n"
    .. "  Sets the optimizer's learning rate to schedule(epoch, lr) at each epoch start (epoch 0-based).",
  ["keras.callbacks.ReduceLROnPlateau"] = "keras.callbacks.ReduceLROnPlateau{monitor='val_loss', factor=0.1, patience=10, "
    .. "verbose=0, mode='auto', min_delta=1e-4, cooldown=0, min_lr=0}\n"
    .. "  Multiplies the learning rate by factor when the monitored value stops improving.",
  ["keras.callbacks.CSVLogger"] = "keras.callbacks.CSVLogger(filename, {separator=',', append=false})\n"
    .. "  Writes one CSV row of logs per epoch.",
  ["keras.callbacks.TerminateOnNaN"] = "keras.callbacks.TerminateOnNaN()\n  Stops fit when the loss becomes NaN or infinite.",
  ["keras.callbacks.LambdaCallback"] = "keras.callbacks.LambdaCallback{on_epoch_end=function(epoch, logs) end, ...}\n"
    .. "  A callback from functions, one per hook name.",
  ["keras.utils.Progbar"] = "keras.utils.Progbar(target, {width=30, verbose=1, interval=0.05, stateful_metrics=, unit_name='step'})\n"
    .. "  bar:update(step, {{'loss', value}, ...}) or bar:add(n, values): Keras's progress bar for custom loops.",
}

return M
