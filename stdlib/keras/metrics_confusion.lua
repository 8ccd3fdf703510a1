-- keras.metrics Precision, Recall and AUC: confusion counts at thresholds,
-- accumulated in non-trainable variables of shape [num_thresholds], with
-- Keras 3's semantics (metrics_utils.update_confusion_matrix_variables).
--
-- An update compares every prediction with every threshold in one
-- broadcast op ([T,1] vs [1,M]) and sums the weighted hits per threshold;
-- Keras's bucketed fast path for evenly spaced thresholds counts the same
-- thing. y_true counts as positive where it is non-zero. top_k keeps the k
-- largest predictions per row (others become -1e10); class_id looks at one
-- column. Not here: AUC's multi_label / num_labels / label_weights.
local class = require("tlua.class")
local core = require("tlua.core")
local tf = require("tlua")
local losses = require("keras.losses")

local M = {}

local raise = core.raise
local ops = core.ops
local as_tensor = losses._as_tensor
local same_rank = losses._squeeze_or_expand_to_same_rank
local EPS = 1e-7
local NEG_INF = -1e10

-- squeeze_or_expand_to_same_rank with expand_rank_1 = false (sample weights).
local function same_rank_noexpand(x1, x2)
  local r1, r2 = #x1.shape, #x2.shape
  if r2 == r1 + 1 and x2.shape[-1] == 1 then x2 = tf.squeeze(x2, -1) end
  if r1 == r2 + 1 and x1.shape[-1] == 1 then x1 = tf.squeeze(x1, -1) end
  return x1, x2
end

local function filter_top_k(x, k)
  local _, idx = tf.math.top_k(x, k)
  local mask = tf.reduce_sum(tf.one_hot(idx, x.shape[-1], { dtype = x.dtype.name }), -2)
  return x * mask + (1 - mask) * NEG_INF
end

-- Adds the confusion counts of one batch to vars (tp, fp, tn, fn; any may be nil).
local function update_confusion(who, vars, thresholds_col, y_true, y_pred, sample_weight, top_k, class_id)
  local dtype = vars.dtype
  local yt, yp = as_tensor(y_true, dtype), as_tensor(y_pred, dtype)
  yp, yt = same_rank(yp, yt)
  losses._check_broadcast(who, yt, yp)
  local sw
  if sample_weight ~= nil then
    sw = tf.expand_dims(as_tensor(sample_weight, dtype), -1)
    local _
    _, sw = same_rank_noexpand(yt, sw)
  end
  if top_k then yp = filter_top_k(yp, top_k) end
  if class_id then
    if #yp.shape < 2 then
      raise("InvalidArgument", ("%s: class_id needs y_pred of shape [num_samples, num_classes], got %s")
        :format(who, losses._describe(yp)))
    end
    local nc = yp.shape[-1]
    if nc ~= nil and class_id >= nc then
      raise("InvalidArgument", ("%s: class_id %d is out of range for y_pred %s (%d classes, 0-based)")
        :format(who, class_id, losses._describe(yp), nc))
    end
    yt = tf.gather(yt, { class_id }, { axis = -1 })
    yp = tf.gather(yp, { class_id }, { axis = -1 })
  end
  local pred = tf.reshape(yp, { 1, -1 })
  local lab = tf.reshape(tf.cast(tf.not_equal(yt, 0), dtype), { 1, -1 })
  local pos = tf.cast(tf.greater(pred, thresholds_col), dtype)   -- [T, M]
  local neg_lab = 1 - lab
  if sw ~= nil then
    local ok, w = pcall(tf.broadcast_to, sw, yp.shape:as_list())
    if not ok then
      raise("InvalidArgument", ("%s: sample_weight %s does not broadcast to y_pred %s")
        :format(who, losses._describe(sample_weight), losses._describe(yp)))
    end
    w = tf.reshape(w, { 1, -1 })
    lab = lab * w
    neg_lab = neg_lab * w
  end
  if vars.tp then ops.assign_add(vars.tp, tf.reduce_sum(pos * lab, 1)) end
  if vars.fp then ops.assign_add(vars.fp, tf.reduce_sum(pos * neg_lab, 1)) end
  if vars.fn or vars.tn then
    local not_pos = 1 - pos
    if vars.fn then ops.assign_add(vars.fn, tf.reduce_sum(not_pos * lab, 1)) end
    if vars.tn then ops.assign_add(vars.tn, tf.reduce_sum(not_pos * neg_lab, 1)) end
  end
end
M._update_confusion = update_confusion

local function check_thresholds(who, list)
  for _, t in ipairs(list) do
    if type(t) ~= "number" or t < 0 or t > 1 then
      raise("InvalidArgument", ("%s: thresholds must be numbers in [0, 1], got %s"):format(who, tostring(t)))
    end
  end
end

function M.install(metrics, Metric)
  -- Precision and Recall share their options and update.
  local function pr_class(cname, second)
    local cls = Metric:extend(cname)
    local spec = { positional = { "thresholds", "top_k", "class_id" }, optional = { "thresholds", "top_k", "class_id", "name", "dtype" } }
    function cls:init(...)
      local o = class.options(cname, spec, ...)
      Metric.init(self, o)
      local who = self._who
      self.init_thresholds, self.top_k, self.class_id = o.thresholds, o.top_k, o.class_id
      local th = o.thresholds
      if th == nil then th = { o.top_k and NEG_INF or 0.5 }
      elseif type(th) == "number" then th = { th } check_thresholds(who, th)
      elseif type(th) == "table" then check_thresholds(who, th)
      else raise("InvalidArgument", ("%s: thresholds must be a number or a list of numbers, got %s"):format(who, type(th))) end
      if o.top_k ~= nil and (math.type(o.top_k) ~= "integer" or o.top_k < 1) then
        raise("InvalidArgument", ("%s: top_k must be a positive integer, got %s"):format(who, tostring(o.top_k)))
      end
      if o.class_id ~= nil and (math.type(o.class_id) ~= "integer" or o.class_id < 0) then
        raise("InvalidArgument", ("%s: class_id must be a non-negative integer (0-based), got %s"):format(who, tostring(o.class_id)))
      end
      self.thresholds = th
      local col = {}
      for i, t in ipairs(th) do col[i] = { t } end
      self._thresholds_col = tf.constant(col, self.dtype)
      self.true_positives = self:add_weight("true_positives", { shape = { #th } })
      self[second] = self:add_weight(second, { shape = { #th } })
      self._vars = { dtype = self.dtype, tp = self.true_positives }
      self._vars[second == "false_positives" and "fp" or "fn"] = self[second]
    end
    function cls:update_state(y_true, y_pred, sample_weight)
      update_confusion(self._who, self._vars, self._thresholds_col, y_true, y_pred, sample_weight, self.top_k, self.class_id)
    end
    function cls:result()
      local tp = self.true_positives:value()
      local r = tf.math.divide_no_nan(tp, tp + self[second]:value())
      if #self.thresholds == 1 then return tf.reshape(r, {}) end
      return r
    end
    function cls:get_config()
      local cfg = Metric.get_config(self)
      cfg.thresholds, cfg.top_k, cfg.class_id = self.init_thresholds, self.top_k, self.class_id
      return cfg
    end
    cls.__doc = ("keras.metrics.%s{thresholds=0.5, top_k=, class_id=, name=, dtype='float32'}\n"
      .. "  streaming %s from confusion counts at each threshold (a list of thresholds gives a vector)"):format(cname, cname:lower())
    metrics[cname] = cls
    return cls
  end
  pr_class("Precision", "false_positives")
  pr_class("Recall", "false_negatives")

  local AUC = Metric:extend("AUC")
  metrics.AUC = AUC
  AUC.__doc = "keras.metrics.AUC{num_thresholds=200, curve='ROC'|'PR', summation_method='interpolation'|'minoring'|'majoring',\n"
    .. "  thresholds=, from_logits=false, name=, dtype='float32'}: area under the ROC or PR curve, streaming"
  local auc_spec = {
    positional = { "num_thresholds", "curve", "summation_method" },
    defaults = { num_thresholds = 200, curve = "ROC", summation_method = "interpolation", multi_label = false,
                 from_logits = false },
    optional = { "name", "dtype", "thresholds", "num_labels", "label_weights" },
  }
  function AUC:init(...)
    local o = class.options("AUC", auc_spec, ...)
    Metric.init(self, o)
    local who = self._who
    local curve = type(o.curve) == "string" and o.curve:upper() or nil
    if curve ~= "ROC" and curve ~= "PR" then
      raise("InvalidArgument", ("%s: curve must be 'ROC' or 'PR', got %s"):format(who, tostring(o.curve)))
    end
    local sm = type(o.summation_method) == "string" and o.summation_method:lower() or nil
    if sm ~= "interpolation" and sm ~= "minoring" and sm ~= "majoring" then
      raise("InvalidArgument", ("%s: summation_method must be 'interpolation', 'minoring' or 'majoring', got %s")
        :format(who, tostring(o.summation_method)))
    end
    if o.multi_label or o.num_labels or o.label_weights then
      raise("Unimplemented", who .. ": multi_label, num_labels and label_weights are not supported")
    end
    self.curve, self.summation_method, self.multi_label, self.from_logits = curve, sm, false, o.from_logits
    local inner
    if o.thresholds ~= nil then
      inner = type(o.thresholds) == "number" and { o.thresholds } or o.thresholds
      check_thresholds(who, inner)
      local copy = {}
      for i, t in ipairs(inner) do copy[i] = t end
      table.sort(copy)
      inner = copy
      self.num_thresholds = #inner + 2
      self._user_thresholds = true
    else
      local n = o.num_thresholds
      if math.type(n) ~= "integer" or n <= 1 then
        raise("InvalidArgument", ("%s: num_thresholds must be an integer > 1, got %s"):format(who, tostring(n)))
      end
      self.num_thresholds = n
      inner = {}
      for i = 0, n - 3 do inner[#inner + 1] = (i + 1) / (n - 1) end
    end
    local th = { 0.0 - EPS }
    for _, t in ipairs(inner) do th[#th + 1] = t end
    th[#th + 1] = 1.0 + EPS
    self.thresholds = th
    local col = {}
    for i, t in ipairs(th) do col[i] = { t } end
    self._thresholds_col = tf.constant(col, self.dtype)
    local T = self.num_thresholds
    self.true_positives = self:add_weight("true_positives", { shape = { T } })
    self.false_positives = self:add_weight("false_positives", { shape = { T } })
    self.true_negatives = self:add_weight("true_negatives", { shape = { T } })
    self.false_negatives = self:add_weight("false_negatives", { shape = { T } })
    self._vars = { dtype = self.dtype, tp = self.true_positives, fp = self.false_positives,
                   tn = self.true_negatives, fn = self.false_negatives }
  end

  function AUC:update_state(y_true, y_pred, sample_weight)
    if self.from_logits then y_pred = tf.sigmoid(as_tensor(y_pred, self.dtype)) end
    update_confusion(self._who, self._vars, self._thresholds_col, y_true, y_pred, sample_weight)
  end

  local function head(x) return x[":-1"] end
  local function tail(x) return x["1:"] end

  function AUC:_interpolate_pr_auc()
    local tp, fp, fn = self.true_positives:value(), self.false_positives:value(), self.false_negatives:value()
    local dtp = head(tp) - tail(tp)
    local p = tp + fp
    local dp = head(p) - tail(p)
    local prec_slope = tf.math.divide_no_nan(dtp, tf.maximum(dp, 0))
    local intercept = tail(tp) - prec_slope * tail(p)
    local safe_p_ratio = tf.where(tf.logical_and(tf.greater(head(p), 0), tf.greater(tail(p), 0)),
      tf.math.divide_no_nan(head(p), tf.maximum(tail(p), 0)), tf.ones_like(tail(p)))
    local inc = tf.math.divide_no_nan(prec_slope * (dtp + intercept * tf.math.log(safe_p_ratio)),
      tf.maximum(tail(tp) + tail(fn), 0))
    return tf.reduce_sum(inc)
  end

  function AUC:result()
    if self.curve == "PR" and self.summation_method == "interpolation" then return self:_interpolate_pr_auc() end
    local tp, fp = self.true_positives:value(), self.false_positives:value()
    local tn, fn = self.true_negatives:value(), self.false_negatives:value()
    local recall = tf.math.divide_no_nan(tp, tp + fn)
    local x, y
    if self.curve == "ROC" then
      x, y = tf.math.divide_no_nan(fp, fp + tn), recall
    else
      x, y = recall, tf.math.divide_no_nan(tp, tp + fp)
    end
    local heights
    if self.summation_method == "interpolation" then heights = (head(y) + tail(y)) / 2
    elseif self.summation_method == "minoring" then heights = tf.minimum(head(y), tail(y))
    else heights = tf.maximum(head(y), tail(y)) end
    return tf.reduce_sum((head(x) - tail(x)) * heights)
  end

  function AUC:get_config()
    local cfg = Metric.get_config(self)
    cfg.num_thresholds = self.num_thresholds
    cfg.curve = self.curve
    cfg.summation_method = self.summation_method
    cfg.multi_label = false
    cfg.from_logits = self.from_logits
    if self._user_thresholds then
      local inner = {}
      for i = 2, #self.thresholds - 1 do inner[#inner + 1] = self.thresholds[i] end
      cfg.thresholds = inner
      cfg.num_thresholds = nil
    end
    return cfg
  end
end

return M
