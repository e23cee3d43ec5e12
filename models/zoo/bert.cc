// BERT-base (bert-base-uncased's BertModel: embeddings, 12 encoder layers, pooler) for one fixed
// sequence length of 128 tokens. Names follow Hugging Face's module paths. Dropout is omitted (the
// identity at inference) and there is no attention mask: every one of the 128 tokens is attended.
//
// Input: token ids [128], float-encoded. Outputs, in BertModel's order:
//   0: "encoder.layer.11.output.LayerNorm", the sequence output [128, 768] (last_hidden_state)
//   1: "pooler.dense", the pooled output [768]: tanh(dense(sequence output of token 0))
#include <string>
#include <vector>

#include "models/builder.h"
#include "models/zoo/zoo_models.h"

namespace dstack::models {

namespace {

constexpr int kSeqLen = 128;
constexpr int kVocab = 30522;
constexpr int kHidden = 768;
constexpr int kLayers = 12;
constexpr int kHeads = 12;
constexpr int kHeadDim = kHidden / kHeads;  // 64
constexpr int kIntermediate = 3072;
constexpr int kMaxPositions = 512;
constexpr int kTokenTypes = 2;
constexpr float kLayerNormEps = 1e-12f;

// Word + position + token-type embeddings, then LayerNorm. Position ids are always 0..127 and the
// token type always 0, so both lookups are constants: the first 128 rows of the position table and
// row 0 of the token-type table, each added as a learned constant.
int embeddings(ModelBuilder& b, int ids) {
  int x = b.embedding("embeddings.word_embeddings", ids, kVocab, kHidden);                  // [128, 768]
  x = b.add_learned("embeddings.position_embeddings", x, {kSeqLen, kHidden});
  x = b.add_learned("embeddings.token_type_embeddings", x, {kHidden});
  return b.layer_norm("embeddings.LayerNorm", x, kLayerNormEps);
}

// [128, 768] -> [12, 128, 64] (heads first), or [12, 64, 128] for the keys (already transposed
// for Q K^T). The perm is over the full shape: the batch stays at axis 0.
int split_heads(ModelBuilder& b, const std::string& name, int x, bool keys) {
  int h = b.reshape(name + ".heads", x, {kSeqLen, kHeads, kHeadDim});
  return b.transpose(name + ".transpose", h, keys ? std::vector<int>{0, 2, 3, 1} : std::vector<int>{0, 2, 1, 3});
}

// Multi-head self-attention, its output projection, residual and LayerNorm.
int attention(ModelBuilder& b, const std::string& layer, int x) {
  const std::string self = layer + ".attention.self";
  int q = split_heads(b, self + ".query", b.linear(self + ".query", x, kHidden), false);  // [12, 128, 64]
  int k = split_heads(b, self + ".key", b.linear(self + ".key", x, kHidden), true);       // [12, 64, 128]
  int v = split_heads(b, self + ".value", b.linear(self + ".value", x, kHidden), false);  // [12, 128, 64]
  int scores = b.matmul(self + ".scores", q, k, 1.f / 8.f);                               // 1/sqrt(64); [12, 128, 128]
  int probs = b.softmax(self + ".probs", scores);
  int context = b.matmul(self + ".context", probs, v);                                     // [12, 128, 64]
  context = b.transpose(self + ".context.transpose", context, {0, 2, 1, 3});               // [128, 12, 64]
  context = b.reshape(self + ".context.merge", context, {kSeqLen, kHidden});               // [128, 768]
  const std::string out = layer + ".attention.output";
  int y = b.linear(out + ".dense", context, kHidden);
  y = b.add(out + ".residual", y, x);
  return b.layer_norm(out + ".LayerNorm", y, kLayerNormEps);
}

// Feed-forward: dense 3072 + GELU (erf), dense 768, residual, LayerNorm.
int feed_forward(ModelBuilder& b, const std::string& layer, int x) {
  int h = b.linear(layer + ".intermediate.dense", x, kIntermediate, {Activation::Gelu});
  int y = b.linear(layer + ".output.dense", h, kHidden);
  y = b.add(layer + ".output.residual", y, x);
  return b.layer_norm(layer + ".output.LayerNorm", y, kLayerNormEps);
}

// tanh(dense(hidden state of token 0)): a Gather of index 0 along the sequence axis (axis 1 of the
// full shape) that drops that axis, [128, 768] -> [768].
int pooler(ModelBuilder& b, int x) {
  Attrs first;
  first.axis = 1;
  first.indices = {0};
  first.keepdims = false;
  int cls = b.graph().add_node("pooler.first_token", OpKind::Gather, {x}, first);
  return b.linear("pooler.dense", cls, kHidden, {Activation::Tanh});
}

}  // namespace

Model build_bert_base(const BuildOptions& options) {
  ModelBuilder b("bert_base", options);
  int ids = b.input("input_ids", {kSeqLen});
  int x = embeddings(b, ids);
  for (int i = 0; i < kLayers; ++i) {
    const std::string layer = "encoder.layer." + std::to_string(i);
    x = feed_forward(b, layer, attention(b, layer, x));
  }
  b.output(x);
  b.output(pooler(b, x));
  Model m = b.finish();
  // The builder counts what the graph holds: 128 of the 512 position rows and 1 of the 2
  // token-type rows. BertModel holds the whole tables, so count the rows a fixed-length,
  // single-segment graph never reads.
  m.param_count += int64_t{kMaxPositions - kSeqLen} * kHidden + int64_t{kTokenTypes - 1} * kHidden;
  return m;
}

}  // namespace dstack::models
