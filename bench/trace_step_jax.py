# JAX peer of bench/trace_step_keras.lua: the seed's step as one jax.jit (the MLP
# 784-256-128-10 with Glorot-uniform kernels, optax.nadam(0.01, eps=1e-7),
# sparse categorical crossentropy on clipped probabilities, running loss and
# accuracy sums in the state, as Keras metrics), state buffers donated,
# batch 32, random data pool on the device.
#   /work/venv-tf/bin/python bench/trace_step_jax.py [--steps 2000] [--threads 2]
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from trace_step_common import options, pool, run
args = options(__doc__)
os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                           f" --xla_cpu_multi_thread_eigen=true intra_op_parallelism_threads={args.threads}")
os.environ.setdefault("JAX_PLATFORMS", "cpu")
import jax
import jax.numpy as jnp
import optax

EPS = 1e-7


def glorot(key, n_in, n_out):
    lim = (6.0 / (n_in + n_out)) ** 0.5
    return jax.random.uniform(key, (n_in, n_out), jnp.float32, -lim, lim)


keys = jax.random.split(jax.random.PRNGKey(args.seed), 3)
sizes = [(784, 256), (256, 128), (128, 10)]
params = [(glorot(k, a, b), jnp.zeros((b,), jnp.float32)) for k, (a, b) in zip(keys, sizes)]
tx = optax.nadam(0.01, eps=1e-7)
state = (params, tx.init(params), jnp.zeros(4, jnp.float32))  # loss sum, count, correct, seen


def forward(params, X):
    h = X
    for i, (W, b) in enumerate(params):
        h = h @ W + b
        h = jax.nn.relu(h) if i < 2 else jax.nn.softmax(h)
    return h


def loss_of(params, X, y):
    p = forward(params, X)
    picked = jnp.take_along_axis(p, y[:, None], axis=1)[:, 0]
    return -jnp.mean(jnp.log(jnp.clip(picked, EPS, 1 - EPS))), p


@jax.jit
def _step(state, X, y):
    params, opt_state, metrics = state
    (loss, p), grads = jax.value_and_grad(loss_of, has_aux=True)(params, X, y)
    updates, opt_state = tx.update(grads, opt_state, params)
    params = optax.apply_updates(params, updates)
    correct = jnp.sum(jnp.argmax(p, 1) == y).astype(jnp.float32)
    metrics = metrics + jnp.stack([loss, 1.0, correct, jnp.float32(y.shape[0])])
    return (params, opt_state, metrics), loss


_step = jax.jit(_step.__wrapped__, donate_argnums=0)


def step(X, y):
    global state
    state, loss = _step(state, X, y)
    return loss


batches = [(jnp.asarray(X), jnp.asarray(y)) for X, y in pool(args.batch, args.seed)]
run("jax", step, batches, args.steps, sync=lambda r: r.block_until_ready())
