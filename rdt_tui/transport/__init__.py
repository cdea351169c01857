"""How the console reaches an agent: a byte stream of JSON lines, local or over SSH."""
