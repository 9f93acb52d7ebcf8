"""Common syntax mistakes, each with a few bad snippets, for Lark's ``match_examples``.

A parse error is labelled with the first entry whose snippets fail in the same parser state.
Keep each label a short instruction: it is appended to "unexpected X: ".
"""

from __future__ import annotations

SYNTAX_EXAMPLES: dict[str, list[str]] = {
    "use '^' for powers, not '**'": [
        "loss l = x ** 2",
        "predict f = (x) ** 2",
        "let h = 2 ** 3",
    ],
    "a setting needs '=' between its name and its value": [
        "attack pgd { radius 0.1 }",
        "train { lr 0.1 }",
        "compile { precision 1e-3 }",
    ],
    "a section's settings go inside '{ ... }'": [
        "attack pgd radius = 0.1",
        "train lr = 0.1",
        "compile precision = 1e-3",
        "attack { radius = 0.1 }",
    ],
    "an attack names its method before '{': attack pgd { ... }": [
        "attack = pgd",
    ],
    "a data sample is written 'input -> label'": [
        "data = inline { [1, 2] 3 }",
        "data = inline { [1, 2], 3 }",
        "data = inline { 1 = 2 }",
    ],
    "separate inline samples with ';'": [
        "data = inline { [1, 2] -> 3 [4, 5] -> 6 }",
        "data = inline { 1 -> 3 2 -> 6 }",
        "data = inline { [1, 2] -> 3, [4, 5] -> 6 }",
    ],
    "write data sources as 'data = inline { ... }' or 'data = csv(\"file.csv\", label = \"y\")'": [
        "data train = inline { 1 -> 2 }",
        "data inline { 1 -> 2 }",
        "data = { 1 -> 2 }",
    ],
    "a definition needs '=' after its name": [
        "predict f dot(theta, x)",
        "loss l (f - y)^2",
        "let h x",
    ],
    "a declaration's shape is written in brackets: param W[3, 2]": [
        "param W(3, 2)",
        "input x(2)",
        "param W = zeros(3, 2) x",
    ],
    "a missing operator between two terms (use '*' to multiply)": [
        "loss l = 2 x",
        "loss l = (f - y) (f - y)",
        "predict f = theta x",
        "loss l = 0.5 (f - y)^2",
    ],
    "an operator is missing its right-hand side": [
        "loss l = x +",
        "loss l = x * ",
        "loss l = x ^",
        "predict f = x @",
    ],
    "unbalanced parentheses or brackets": [
        "loss l = (x + 1",
        "loss l = x + 1)",
        "predict f = dot(theta, x",
        "param t[2] = [1, 2",
        "loss l = x]",
    ],
    "a '{' section is not closed with '}'": [
        "train { lr = 0.1",
        "attack pgd { radius = 0.1",
        "data = inline { 1 -> 2",
    ],
    (
        "a statement starts with param, input, label, data, let, predict, loss, attack, train "
        "or compile"
    ): [
        "theta = 1",
        "model f = x",
        "function f = x",
        "def f = x",
    ],
}
