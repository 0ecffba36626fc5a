"""Governing the knowledge in production (issue 14).

- `knowledge_version`: the semantic version of the shipped knowledge and the content hash over every file the
  service's advice rests on (knowledge, site overrides, cards, phrase book, rule summaries) — one function, also
  the knowledge book's stamp;
- `extensions`: what every card and every rating carries (the knowledge version; the drafted orders a card is
  about, in the Da Vinci CRD `associated-resource` shape under this service's own key);
- `delivery`: per-topic live / silent mode (setting and card-file field), validated against the topic registry;
- `repeats`: the evidence fingerprint of a finding and the no-repeat-alert check against the store;
- `knowledge_set`: the knowledge, cards, renderer and version as the service loads them (service and simulator).
"""
