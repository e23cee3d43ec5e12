#!/usr/bin/python3
"""Parameter counts of the zoo's models as torchvision (and Hugging Face's BertModel) count them.

Run with the system python (Debian's python3-torch / python3-torchvision):
    /usr/bin/python3 models/zoo/param_counts.py
The numbers are hard-coded in test/models/test_zoo.cc; rerun this script if a model changes.
Models are built with weights=None and init_weights=False (no weights are downloaded or
initialised: the count depends on structure only); inception_v3 without its auxiliary head.
"""
import torchvision.models as tvm

VISION = {
    "alexnet": lambda: tvm.alexnet(weights=None),
    "vgg16": lambda: tvm.vgg16(weights=None, init_weights=False),
    "vgg19": lambda: tvm.vgg19(weights=None, init_weights=False),
    "resnet18": lambda: tvm.resnet18(weights=None),
    "resnet50": lambda: tvm.resnet50(weights=None),
    "resnet152": lambda: tvm.resnet152(weights=None),
    "resnext50_32x4d": lambda: tvm.resnext50_32x4d(weights=None),
    "mobilenet_v2": lambda: tvm.mobilenet_v2(weights=None),
    "inception_v3": lambda: tvm.inception_v3(weights=None, aux_logits=False, init_weights=False),
}


def bert_base_param_count():
    """bert-base-uncased BertModel (with pooler), counted from its configuration.

    transformers is not installed here, so the count is computed from the published configuration
    (vocab 30522, hidden 768, 12 layers, intermediate 3072, 512 positions, 2 token types) the way
    BertModel lays out its parameters; the result is the well-known 109,482,240.
    """
    vocab, hidden, layers, inter, positions, types = 30522, 768, 12, 3072, 512, 2

    def linear(i, o):
        return i * o + o

    layer_norm = 2 * hidden
    embeddings = (vocab + positions + types) * hidden + layer_norm
    attention = 3 * linear(hidden, hidden) + linear(hidden, hidden) + layer_norm
    feed_forward = linear(hidden, inter) + linear(inter, hidden) + layer_norm
    pooler = linear(hidden, hidden)
    return embeddings + layers * (attention + feed_forward) + pooler


def main():
    rows = [(name, sum(p.numel() for p in make().parameters())) for name, make in VISION.items()]
    rows.append(("bert_base", bert_base_param_count()))
    print(f"{'model':<18}{'parameters':>14}")
    for name, count in rows:
        print(f"{name:<18}{count:>14,}")


if __name__ == "__main__":
    main()
