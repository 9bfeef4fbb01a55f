// Package suggest finds the known word a mistyped one most likely meant ("did you mean"), by
// edit distance. It is used for unknown YAML keys and unknown names in tool arguments.
package suggest
