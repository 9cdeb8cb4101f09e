#!/usr/bin/env python3
"""Reference checkpoints and logits for remask's llada, dream and sdar import/export.

The forwards below follow the published modeling code line by line in plain
torch (the published files need transformers, which the tests do not
assume): Gen-Verse/dLLM-RL models/llada/modeling_llada.py (LLaDAModel with
LLaDALlamaBlock), models/dream/modeling_dream.py (DreamModel) and
models/sdar/modeling_sdar.py (SDARForCausalLM, given the block-causal
attention mask SDAR's training and sampling code builds: position i sees
position j when j // block_size <= i // block_size). They run
in float64 on the checkpoint's stored values, so the logits are the exact
answer the float32 Go forward is compared with. Safetensors are read and
written by hand (8-byte little-endian header length, JSON header, raw
little-endian data), without the safetensors package.

  make_reference.py generate [OUTDIR]
      write the tiny checkpoints (llada, dream, dream_tied, llada_bf16_sharded,
      dream_chat, sdar) under OUTDIR (default: this script's folder), each with
      config.json, its safetensors and reference.json: {"ids": [...],
      "logits": [[...]]}; dream_chat also has a small Qwen2-style byte-level
      BPE tokenizer.json (merges learned here from data/testdata's GSM8K
      lines), a tokenizer_config.json with Qwen2.5's chat template (Dream's;
      read from data/chat/testdata/reference.json) and generation_config.json
  make_reference.py generate OUTDIR NAME...
      only the named checkpoints
  make_reference.py logits DIR --ids 3,17,5
      print {"logits": [[...]]} for a Hugging Face folder of either family
  make_reference.py check DIR --ids 3,17,5 --logits FILE [--tol 1e-4]
      load DIR (e.g. what `remask ckpt export --format hf` wrote), compute its
      logits and compare them with FILE's {"logits": ...} (what `remask ckpt
      logits --json` printed): max |a - b| <= tol * max |reference|. Exit 1
      and say where when they differ.
  make_reference.py checks LIST.json
      check for each {"dir", "ids", "logits"} of the list (one torch start
      for several folders)
"""

import json
import math
import os
import struct
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))

# ---------------------------------------------------------------- safetensors

DTYPES = {"F32": ("<f4", 4), "F16": ("<f2", 2), "BF16": ("<u2", 2)}


def write_safetensors(path, tensors, dtype, metadata=None):
    """tensors: name -> float64/float32 torch tensor, written as dtype."""
    header, blobs, off = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    for name in sorted(tensors):
        t = tensors[name].detach().to(torch.float32).contiguous()
        if dtype == "F32":
            b = t.numpy().astype("<f4").tobytes()
        elif dtype == "F16":
            b = t.to(torch.float16).numpy().astype("<f2").tobytes()
        elif dtype == "BF16":
            b = t.to(torch.bfloat16).view(torch.int16).numpy().astype("<i2").tobytes()
        else:
            raise ValueError(dtype)
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    hj = json.dumps(header, separators=(",", ":")).encode()
    hj += b" " * ((8 - len(hj) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hj)))
        f.write(hj)
        for b in blobs:
            f.write(b)


def read_safetensors(path):
    """name -> float64 torch tensor (F32, F16, BF16), checking the layout."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    header.pop("__metadata__", None)
    data = raw[8 + n:]
    out, spans = {}, []
    for name, e in header.items():
        np_dtype, size = DTYPES[e["dtype"]]
        b, end = e["data_offsets"]
        count = int(np.prod(e["shape"])) if e["shape"] else 1
        if end - b != count * size or end > len(data):
            raise ValueError(f"{path}: tensor {name}: data_offsets {e['data_offsets']}")
        spans.append((b, end))
        a = np.frombuffer(data[b:end], dtype=np_dtype)
        if e["dtype"] == "BF16":
            a = (a.astype(np.uint32) << 16).view(np.float32)
        out[name] = torch.from_numpy(a.astype(np.float64)).reshape(e["shape"])
    pos = 0
    for b, end in sorted(spans):
        if b != pos:
            raise ValueError(f"{path}: tensors overlap or leave a gap at byte {pos}")
        pos = end
    if pos != len(data):
        raise ValueError(f"{path}: {len(data)} data bytes, tensors cover {pos}")
    return out


def load_weights(d):
    index = os.path.join(d, "model.safetensors.index.json")
    if os.path.exists(index):
        with open(index) as f:
            weight_map = json.load(f)["weight_map"]
        out = {}
        for shard in sorted(set(weight_map.values())):
            out.update(read_safetensors(os.path.join(d, shard)))
        missing = [k for k in weight_map if k not in out]
        if missing:
            raise ValueError(f"{index}: tensors not in their shards: {missing}")
        return out
    return read_safetensors(os.path.join(d, "model.safetensors"))


# ------------------------------------------------------------ shared pieces


def rms_norm(x, weight, eps):
    # LLaDA's RMSLayerNorm and DreamRMSNorm: x * rsqrt(mean(x^2) + eps) * weight
    variance = x.pow(2).mean(-1, keepdim=True)
    return weight * (x * torch.rsqrt(variance + eps))


def rotate_half(x):
    # both families: the first half and the second half of each head form
    # the rotated pairs: (x1, x2) -> (-x2, x1)
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat((-x2, x1), dim=-1)


def rope_tables(seq_len, dim, theta):
    # LLaDA's RotaryEmbedding.get_rotary_embedding and transformers' default
    # RoPE (Dream): inv_freq = 1 / theta^(arange(0, dim, 2) / dim), the angles
    # repeated over both halves
    inv_freq = 1.0 / (theta ** (torch.arange(0, dim, 2, dtype=torch.float64) / dim))
    freqs = torch.outer(torch.arange(seq_len, dtype=torch.float64), inv_freq)
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos(), emb.sin()


def linear(x, w, name):
    y = x @ w[name + ".weight"].T
    if name + ".bias" in w:
        y = y + w[name + ".bias"]
    return y


def attention(q, k, v, n_heads, n_kv, hd, cos, sin, q_norm=None, k_norm=None, eps=None, visible=None):
    """q (T, H*hd), k and v (T, KVH*hd): bidirectional attention, or only
    where visible (T, T) is true; q_norm and k_norm (SDAR) are RMSNorm
    weights applied to each head before RoPE."""
    T = q.shape[0]
    q = q.view(T, n_heads, hd).transpose(0, 1)
    k = k.view(T, n_kv, hd).transpose(0, 1)
    v = v.view(T, n_kv, hd).transpose(0, 1)
    if q_norm is not None:  # SDARAttention: q_norm(q_proj(x).view(..., head_dim)), k likewise
        q = rms_norm(q, q_norm, eps)
        k = rms_norm(k, k_norm, eps)
    q = q * cos + rotate_half(q) * sin
    k = k * cos + rotate_half(k) * sin
    if n_kv != n_heads:  # LLaDA repeat_interleave, Dream repeat_kv: the same grouping
        k = k.repeat_interleave(n_heads // n_kv, dim=0)
        v = v.repeat_interleave(n_heads // n_kv, dim=0)
    scores = q @ k.transpose(1, 2) / math.sqrt(hd)
    if visible is not None:  # SDAR: the 0/1 mask becomes an additive 0 / -inf mask
        scores = scores.masked_fill(~visible, float("-inf"))
    att = torch.softmax(scores, dim=-1) @ v
    return att.transpose(0, 1).reshape(T, n_heads * hd)


# ------------------------------------------------------------------ LLaDA


def llada_forward(cfg, w, ids):
    d, nh = cfg["d_model"], cfg["n_heads"]
    nkv = cfg.get("n_kv_heads") or nh
    hd = d // nh
    eps = cfg.get("rms_norm_eps", 1e-5)
    P = "model.transformer."
    x = w[P + "wte.weight"][torch.tensor(ids)]
    cos, sin = rope_tables(len(ids), hd, cfg.get("rope_theta", 10000.0))
    for i in range(cfg["n_layers"]):
        b = P + f"blocks.{i}."
        h = rms_norm(x, w[b + "attn_norm.weight"], eps)
        q, k, v = linear(h, w, b + "q_proj"), linear(h, w, b + "k_proj"), linear(h, w, b + "v_proj")
        x = x + linear(attention(q, k, v, nh, nkv, hd, cos, sin), w, b + "attn_out")
        h = rms_norm(x, w[b + "ff_norm.weight"], eps)
        # LLaDALlamaBlock: x, x_up = ff_proj(x), up_proj(x); x = act(x) * x_up
        # with activation_type silu; then ff_out
        g, u = linear(h, w, b + "ff_proj"), linear(h, w, b + "up_proj")
        x = x + linear(torch.nn.functional.silu(g) * u, w, b + "ff_out")
    x = rms_norm(x, w[P + "ln_f.weight"], eps)
    head = w[P + "wte.weight"] if cfg.get("weight_tying", True) else w[P + "ff_out.weight"]
    return x @ head.T


# ------------------------------------------------------------------ Dream


def dream_forward(cfg, w, ids):
    d, nh = cfg["hidden_size"], cfg["num_attention_heads"]
    nkv = cfg.get("num_key_value_heads") or nh
    hd = d // nh
    eps = cfg.get("rms_norm_eps", 1e-6)
    x = w["model.embed_tokens.weight"][torch.tensor(ids)]
    cos, sin = rope_tables(len(ids), hd, cfg.get("rope_theta", 10000.0))
    for i in range(cfg["num_hidden_layers"]):
        b = f"model.layers.{i}."
        h = rms_norm(x, w[b + "input_layernorm.weight"], eps)
        a = b + "self_attn."
        q, k, v = linear(h, w, a + "q_proj"), linear(h, w, a + "k_proj"), linear(h, w, a + "v_proj")
        x = x + linear(attention(q, k, v, nh, nkv, hd, cos, sin), w, a + "o_proj")
        h = rms_norm(x, w[b + "post_attention_layernorm.weight"], eps)
        m = b + "mlp."
        x = x + linear(torch.nn.functional.silu(linear(h, w, m + "gate_proj")) * linear(h, w, m + "up_proj"), w, m + "down_proj")
    x = rms_norm(x, w["model.norm.weight"], eps)
    head = w["model.embed_tokens.weight"] if cfg.get("tie_word_embeddings", False) else w["lm_head.weight"]
    return x @ head.T  # raw: row i is the distribution of token i+1


# ------------------------------------------------------------------ SDAR


def block_causal(T, block_size):
    i = torch.arange(T)
    return (i[None, :] // block_size) <= (i[:, None] // block_size)


def sdar_forward(cfg, w, ids):
    d, nh = cfg["hidden_size"], cfg["num_attention_heads"]
    nkv = cfg.get("num_key_value_heads") or nh
    hd = cfg.get("head_dim", 128)
    eps = cfg.get("rms_norm_eps", 1e-6)
    x = w["model.embed_tokens.weight"][torch.tensor(ids)]
    cos, sin = rope_tables(len(ids), hd, cfg.get("rope_theta", 10000.0))
    visible = block_causal(len(ids), cfg.get("block_size", 4))
    for i in range(cfg["num_hidden_layers"]):
        b = f"model.layers.{i}."
        h = rms_norm(x, w[b + "input_layernorm.weight"], eps)
        a = b + "self_attn."
        q, k, v = linear(h, w, a + "q_proj"), linear(h, w, a + "k_proj"), linear(h, w, a + "v_proj")
        att = attention(q, k, v, nh, nkv, hd, cos, sin, w[a + "q_norm.weight"], w[a + "k_norm.weight"], eps, visible)
        x = x + linear(att, w, a + "o_proj")
        h = rms_norm(x, w[b + "post_attention_layernorm.weight"], eps)
        m = b + "mlp."
        x = x + linear(torch.nn.functional.silu(linear(h, w, m + "gate_proj")) * linear(h, w, m + "up_proj"), w, m + "down_proj")
    x = rms_norm(x, w["model.norm.weight"], eps)
    head = w["model.embed_tokens.weight"] if cfg.get("tie_word_embeddings", False) else w["lm_head.weight"]
    return x @ head.T


def forward(d, ids):
    with open(os.path.join(d, "config.json")) as f:
        cfg = json.load(f)
    w = load_weights(d)
    kind = cfg.get("model_type", "").lower()
    if kind == "llada":
        return llada_forward(cfg, w, ids)
    if kind == "dream":
        return dream_forward(cfg, w, ids)
    if kind == "sdar":
        return sdar_forward(cfg, w, ids)
    raise ValueError(f"{d}: model_type {cfg.get('model_type')!r}")


# ------------------------------------------------------------- generation


def random_weights(names_shapes, seed):
    g = torch.Generator().manual_seed(seed)
    out = {}
    for name, shape in names_shapes:
        if name.endswith("norm.weight") or name.endswith("ln_f.weight") or "layernorm" in name:
            t = 1 + 0.2 * torch.randn(shape, generator=g, dtype=torch.float64)
        elif name.endswith(".bias"):
            t = 0.2 * torch.randn(shape, generator=g, dtype=torch.float64)
        elif "wte" in name or "embed_tokens" in name:
            t = torch.randn(shape, generator=g, dtype=torch.float64)
        else:  # a linear layer (out, in)
            t = torch.randn(shape, generator=g, dtype=torch.float64) / math.sqrt(shape[1])
        out[name] = t
    return out


def llada_shapes(cfg):
    d, nh, f = cfg["d_model"], cfg["n_heads"], cfg["mlp_hidden_size"]
    nkv, hd = cfg.get("n_kv_heads") or nh, d // nh
    emb = cfg.get("embedding_size") or cfg["vocab_size"]
    bias = cfg.get("include_qkv_bias", False)
    P = "model.transformer."
    out = [(P + "wte.weight", (emb, d))]
    for i in range(cfg["n_layers"]):
        b = P + f"blocks.{i}."
        out += [(b + "attn_norm.weight", (d,)), (b + "q_proj.weight", (d, d)),
                (b + "k_proj.weight", (nkv * hd, d)), (b + "v_proj.weight", (nkv * hd, d))]
        if bias:
            out += [(b + "q_proj.bias", (d,)), (b + "k_proj.bias", (nkv * hd,)), (b + "v_proj.bias", (nkv * hd,))]
        out += [(b + "attn_out.weight", (d, d)), (b + "ff_norm.weight", (d,)), (b + "ff_proj.weight", (f, d)),
                (b + "up_proj.weight", (f, d)), (b + "ff_out.weight", (d, f))]
    out.append((P + "ln_f.weight", (d,)))
    if not cfg.get("weight_tying", True):
        out.append((P + "ff_out.weight", (emb, d)))
    return out


def dream_shapes(cfg):
    d, nh, f, V = cfg["hidden_size"], cfg["num_attention_heads"], cfg["intermediate_size"], cfg["vocab_size"]
    nkv, hd = cfg.get("num_key_value_heads") or nh, d // nh
    out = [("model.embed_tokens.weight", (V, d))]
    for i in range(cfg["num_hidden_layers"]):
        b = f"model.layers.{i}."
        a = b + "self_attn."
        out += [(b + "input_layernorm.weight", (d,)),
                (a + "q_proj.weight", (nh * hd, d)), (a + "q_proj.bias", (nh * hd,)),
                (a + "k_proj.weight", (nkv * hd, d)), (a + "k_proj.bias", (nkv * hd,)),
                (a + "v_proj.weight", (nkv * hd, d)), (a + "v_proj.bias", (nkv * hd,)),
                (a + "o_proj.weight", (d, nh * hd)), (b + "post_attention_layernorm.weight", (d,)),
                (b + "mlp.gate_proj.weight", (f, d)), (b + "mlp.up_proj.weight", (f, d)),
                (b + "mlp.down_proj.weight", (d, f))]
    out.append(("model.norm.weight", (d,)))
    if not cfg.get("tie_word_embeddings", False):
        out.append(("lm_head.weight", (V, d)))
    return out


def sdar_shapes(cfg):
    d, nh, f, V = cfg["hidden_size"], cfg["num_attention_heads"], cfg["intermediate_size"], cfg["vocab_size"]
    nkv, hd = cfg.get("num_key_value_heads") or nh, cfg.get("head_dim", 128)
    out = [("model.embed_tokens.weight", (V, d))]
    for i in range(cfg["num_hidden_layers"]):
        b = f"model.layers.{i}."
        a = b + "self_attn."
        out += [(b + "input_layernorm.weight", (d,)),
                (a + "q_proj.weight", (nh * hd, d)), (a + "k_proj.weight", (nkv * hd, d)),
                (a + "v_proj.weight", (nkv * hd, d)), (a + "o_proj.weight", (d, nh * hd)),
                (a + "q_norm.weight", (hd,)), (a + "k_norm.weight", (hd,)),
                (b + "post_attention_layernorm.weight", (d,)),
                (b + "mlp.gate_proj.weight", (f, d)), (b + "mlp.up_proj.weight", (f, d)),
                (b + "mlp.down_proj.weight", (d, f))]
    out.append(("model.norm.weight", (d,)))
    if not cfg.get("tie_word_embeddings", False):
        out.append(("lm_head.weight", (V, d)))
    return out


LLADA_AUTO_MAP = {"AutoConfig": "configuration_llada.LLaDAConfig",
                  "AutoModelForCausalLM": "modeling_llada.LLaDAModelLM",
                  "AutoModel": "modeling_llada.LLaDAModelLM"}
DREAM_AUTO_MAP = {"AutoConfig": "configuration_dream.DreamConfig", "AutoModel": "modeling_dream.DreamModel"}


SDAR_AUTO_MAP = {"AutoConfig": "configuration_sdar.SDARConfig", "AutoModelForCausalLM": "modeling_sdar.SDARForCausalLM"}


def sdar_config(**kw):
    cfg = {"model_type": "sdar", "architectures": ["SDARForCausalLM"], "auto_map": SDAR_AUTO_MAP,
           "hidden_act": "silu", "rope_scaling": None, "attention_bias": False, "use_sliding_window": False,
           "sliding_window": None, "attention_dropout": 0.0, "use_cache": False, "bos_token_id": 2,
           "eos_token_id": 3, "pad_token_id": 3, "torch_dtype": "float32"}
    cfg.update(kw)
    return cfg


def llada_config(**kw):
    cfg = {"model_type": "llada", "architectures": ["LLaDAModelLM"], "auto_map": LLADA_AUTO_MAP,
           "activation_type": "silu", "block_type": "llama", "layer_norm_type": "rms", "rope": True,
           "alibi": False, "attention_layer_norm": False, "include_bias": False, "bias_for_layer_norm": False,
           "layer_norm_with_affine": True, "scale_logits": False, "input_emb_norm": False,
           "block_group_size": 1, "rope_full_precision": True, "use_cache": False,
           "eos_token_id": 3, "pad_token_id": 3, "torch_dtype": "float32"}
    cfg.update(kw)
    return cfg


def dream_config(**kw):
    cfg = {"model_type": "Dream", "architectures": ["DreamModel"], "auto_map": DREAM_AUTO_MAP,
           "hidden_act": "silu", "rope_scaling": None, "use_sliding_window": False, "sliding_window": None,
           "attention_dropout": 0.0, "use_cache": False, "bos_token_id": 2, "eos_token_id": 3, "pad_token_id": 3,
           "torch_dtype": "float32"}
    cfg.update(kw)
    return cfg


# Each variant: config, dtype, shards, token ids. The ids include the mask
# token and ids above vocab_size where the embedding is padded.
VARIANTS = {
    # LLaDA-8B's layout at toy width: MHA, untied, an embedding padded past
    # vocab_size (embedding_size > vocab_size).
    "llada": (llada_config(d_model=48, n_heads=4, n_kv_heads=4, n_layers=2, mlp_hidden_size=80,
                           vocab_size=200, embedding_size=256, max_sequence_length=64, rope_theta=500000.0,
                           rms_norm_eps=1e-5, mask_token_id=126, weight_tying=False, include_qkv_bias=False),
              "F32", 1, [1, 17, 5, 126, 126, 42, 199, 230, 0, 88]),
    # grouped-query attention, q/k/v biases, weight tying; BF16 in two shards
    "llada_bf16_sharded": (llada_config(d_model=32, n_heads=4, n_kv_heads=2, n_layers=2, mlp_hidden_size=64,
                                        vocab_size=128, embedding_size=128, max_sequence_length=64,
                                        rope_theta=10000.0, rms_norm_eps=1e-5, mask_token_id=120,
                                        weight_tying=True, include_qkv_bias=True),
                           "BF16", 2, [4, 9, 120, 120, 120, 77, 3, 64]),
    # Dream-7B's (Qwen2) layout at toy width: GQA, q/k/v biases, untied
    "dream": (dream_config(hidden_size=64, num_attention_heads=4, num_key_value_heads=2, num_hidden_layers=2,
                           intermediate_size=96, vocab_size=160, max_position_embeddings=128,
                           rope_theta=1000000.0, rms_norm_eps=1e-6, mask_token_id=151, tie_word_embeddings=False),
              "F32", 1, [2, 33, 8, 151, 151, 151, 60, 3, 159, 12]),
    # tied embeddings (no lm_head in the file), multi-query attention, F16
    "dream_tied": (dream_config(hidden_size=32, num_attention_heads=4, num_key_value_heads=1, num_hidden_layers=2,
                                intermediate_size=48, vocab_size=100, max_position_embeddings=64,
                                rope_theta=10000.0, rms_norm_eps=1e-6, mask_token_id=99, tie_word_embeddings=True),
                   "F16", 1, [5, 99, 99, 14, 2, 71, 3]),
    # with a real (small) tokenizer and chat template, for the CLI's
    # import-sample-eval-train test: 356 token ids, the embedding padded to 384
    "dream_chat": (dream_config(hidden_size=32, num_attention_heads=4, num_key_value_heads=2, num_hidden_layers=2,
                                intermediate_size=64, vocab_size=384, max_position_embeddings=512,
                                rope_theta=1000000.0, rms_norm_eps=1e-6, mask_token_id=355, tie_word_embeddings=False,
                                bos_token_id=352, eos_token_id=352, pad_token_id=352),
                   "F32", 1, [353, 114, 17, 355, 355, 354, 352, 383, 40]),
    # SDAR's (Qwen3) layout at toy width: GQA, q/k norms, a head width other
    # than hidden/heads, blocks of 4 (the 10 ids end in a partial block)
    "sdar": (sdar_config(hidden_size=48, num_attention_heads=4, num_key_value_heads=2, head_dim=16,
                         num_hidden_layers=2, intermediate_size=80, vocab_size=144, max_position_embeddings=128,
                         rope_theta=1000000.0, rms_norm_eps=1e-6, mask_token_id=140, tie_word_embeddings=False,
                         block_size=4),
             "BF16", 1, [2, 31, 7, 90, 140, 140, 140, 140, 12, 3]),
}

# the seed of each variant's random weights (fixed, so that adding a variant
# leaves the others' files as they were)
SEEDS = {"dream": 1, "dream_tied": 2, "llada": 3, "llada_bf16_sharded": 4, "dream_chat": 5, "sdar": 6}

TOKENIZER_FILES = {
    # stand-ins with the shape of the real files, to check they are kept
    "tokenizer.json": {"version": "1.0", "added_tokens": [], "model": {"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": []}},
    "tokenizer_config.json": {"model_max_length": 4096, "chat_template": "{{ messages }}"},
    "generation_config.json": {"eos_token_id": 3, "pad_token_id": 3},
}


# ---------------------------------------------------------------- a tiny Qwen2-style tokenizer

REPO = os.path.normpath(os.path.join(HERE, "..", "..", ".."))
QWEN2_SPLIT = ("(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
               "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+")
CHAT_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|mask|>"]


def bytes_to_unicode():
    """GPT-2's byte-level alphabet: byte -> printable character"""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("\xa1"), ord("\xac") + 1)) + list(range(ord("\xae"), ord("\xff") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


def chat_tokenizer(n_merges):
    """A byte-level BPE in Qwen2's tokenizer.json layout: the 256 byte
    tokens, n_merges merges learned greedily (most frequent pair first) on
    the GSM8K lines of data/testdata, then Qwen's special tokens."""
    import re
    b2u = bytes_to_unicode()
    text = []
    with open(os.path.join(REPO, "data", "testdata", "gsm8k_sample.jsonl")) as f:
        for line in f:
            row = json.loads(line)
            text += [row["question"], row["answer"]]
    words = {}
    for t in text:
        for w in re.findall(r" ?[A-Za-z]+| ?[0-9]| ?[^\sA-Za-z0-9]+|\s+", t):
            key = tuple(b2u[b] for b in w.encode())
            words[key] = words.get(key, 0) + 1
    vocab = {b2u[b]: i for i, b in enumerate(sorted(b2u))}
    merges = []
    while len(merges) < n_merges:
        pairs = {}
        for w, c in words.items():
            for a, b in zip(w, w[1:]):
                pairs[(a, b)] = pairs.get((a, b), 0) + c
        if not pairs:
            break
        best = max(sorted(pairs), key=lambda p: pairs[p])
        merges.append(best)
        vocab[best[0] + best[1]] = len(vocab)
        new = {}
        for w, c in words.items():
            out, i = [], 0
            while i < len(w):
                if i + 1 < len(w) and (w[i], w[i + 1]) == best:
                    out.append(w[i] + w[i + 1])
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            new[tuple(out)] = new.get(tuple(out), 0) + c
        words = new
    added = [{"id": len(vocab) + i, "content": s, "single_word": False, "lstrip": False, "rstrip": False,
              "normalized": False, "special": True} for i, s in enumerate(CHAT_SPECIALS)]
    bl = {"add_prefix_space": False, "trim_offsets": False, "use_regex": False}
    tok = {"version": "1.0", "truncation": None, "padding": None, "added_tokens": added,
           "normalizer": {"type": "NFC"},
           "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
               {"type": "Split", "pattern": {"Regex": QWEN2_SPLIT}, "behavior": "Isolated", "invert": False},
               dict(type="ByteLevel", **bl)]},
           "post_processor": dict(type="ByteLevel", **bl), "decoder": dict(type="ByteLevel", **bl),
           "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "",
                     "end_of_word_suffix": "", "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                     "vocab": vocab, "merges": [a + " " + b for a, b in merges]}}
    ids = {s: len(vocab) + i for i, s in enumerate(CHAT_SPECIALS)}
    with open(os.path.join(REPO, "data", "chat", "testdata", "reference.json")) as f:
        template = json.load(f)["qwen2_5"]["template"]
    tcfg = {"add_bos_token": False, "bos_token": None, "eos_token": "<|endoftext|>", "pad_token": "<|endoftext|>",
            "mask_token": "<|mask|>", "model_max_length": 128, "tokenizer_class": "Qwen2Tokenizer",
            "chat_template": template,
            "added_tokens_decoder": {str(a["id"]): {k: v for k, v in a.items() if k != "id"} for a in added}}
    gen = {"eos_token_id": [ids["<|im_end|>"], ids["<|endoftext|>"]], "pad_token_id": ids["<|endoftext|>"],
           "mask_token_id": ids["<|mask|>"]}
    return tok, tcfg, gen, ids


def rounded(t, dtype):
    """what a tensor reads back as after storing it in dtype"""
    t32 = t.to(torch.float32)
    if dtype == "F16":
        t32 = t32.to(torch.float16).to(torch.float32)
    elif dtype == "BF16":
        t32 = t32.to(torch.bfloat16).to(torch.float32)
    return t32.to(torch.float64)


def generate(outdir, names=None):
    for name, (cfg, dtype, shards, ids) in sorted(VARIANTS.items()):
        if names and name not in names:
            continue
        seed = SEEDS[name]
        d = os.path.join(outdir, name)
        os.makedirs(d, exist_ok=True)
        for old in os.listdir(d):
            os.remove(os.path.join(d, old))
        shapes = {"llada": llada_shapes, "Dream": dream_shapes, "sdar": sdar_shapes}[cfg["model_type"]](cfg)
        w = {k: rounded(v, dtype) for k, v in random_weights(shapes, 1000 + seed).items()}
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump(cfg, f, indent=2, sort_keys=True)
            f.write("\n")
        meta = {"format": "pt"}
        if shards == 1:
            write_safetensors(os.path.join(d, "model.safetensors"), w, dtype, meta)
        else:
            names = [n for n, _ in shapes]
            per = (len(names) + shards - 1) // shards
            weight_map = {}
            for s in range(shards):
                fname = f"model-{s + 1:05d}-of-{shards:05d}.safetensors"
                part = {n: w[n] for n in names[s * per:(s + 1) * per]}
                write_safetensors(os.path.join(d, fname), part, dtype, meta)
                weight_map.update({n: fname for n in part})
            total = sum(v.numel() for v in w.values()) * (2 if dtype != "F32" else 4)
            with open(os.path.join(d, "model.safetensors.index.json"), "w") as f:
                json.dump({"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}, f, indent=2)
                f.write("\n")
        files = TOKENIZER_FILES if name == "llada" else {}
        if name == "dream_chat":
            tok, tcfg, gen, _ = chat_tokenizer(96)
            files = {"tokenizer.json": tok, "tokenizer_config.json": tcfg, "generation_config.json": gen}
        if files:
            for fname, content in files.items():
                with open(os.path.join(d, fname), "w") as f:
                    json.dump(content, f, indent=2)
                    f.write("\n")
        logits = forward(d, ids)  # read back from the files just written
        with open(os.path.join(d, "reference.json"), "w") as f:
            json.dump({"ids": ids, "logits": [[float(v) for v in row] for row in logits.tolist()],
                       "note": "raw logits (row i is the network's output at position i) of the published forward in float64"}, f)
            f.write("\n")
        print(f"{d}: {sum(v.numel() for v in w.values())} parameters, {dtype}, {shards} file(s)")


def parse_ids(s):
    return [int(x) for x in s.split(",")]


def check(d, ids, logits_file, tol=1e-4):
    got = forward(d, ids)
    with open(logits_file) as f:
        want = torch.tensor(json.load(f)["logits"], dtype=torch.float64)
    if want.shape != got.shape:
        print(f"{d}: shape: remask {tuple(want.shape)}, published forward {tuple(got.shape)}")
        return 1
    err = (want - got).abs()
    scale = got.abs().max().item()
    worst = err.max().item()
    if worst > tol * scale:
        i, j = divmod(int(err.argmax()), got.shape[1])
        print(f"{d}: logits differ: max |diff| {worst:.3g} at position {i}, id {j} (remask {want[i, j].item():.7g}, published forward {got[i, j].item():.7g}); allowed {tol:g} x {scale:.4g}")
        return 1
    print(f"{d}: ok: {got.shape[0]}x{got.shape[1]} logits agree, max |diff| {worst:.3g} (scale {scale:.4g})")
    return 0


def main(argv):
    if len(argv) >= 1 and argv[0] == "generate":
        generate(argv[1] if len(argv) > 1 else HERE, argv[2:])
        return 0
    if len(argv) >= 2 and argv[0] in ("logits", "check"):
        d, rest = argv[1], argv[2:]
        opts = dict(zip(rest[0::2], rest[1::2]))
        ids = parse_ids(opts["--ids"])
        if argv[0] == "logits":
            print(json.dumps({"logits": forward(d, ids).tolist()}))
            return 0
        return check(d, ids, opts["--logits"], float(opts.get("--tol", "1e-4")))
    if len(argv) == 2 and argv[0] == "checks":
        with open(argv[1]) as f:
            items = json.load(f)
        return max([check(it["dir"], it["ids"], it["logits"]) for it in items] + [0])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
