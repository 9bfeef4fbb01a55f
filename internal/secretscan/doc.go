// Package secretscan keeps secrets out of what the setup agent reads: it tells which file
// names hold secrets (DeniedName), redacts secrets found in a file's text (Redact), and tells
// which column names say their values are secret (SecretColumn, for profile_table's masking).
//
// # What it finds
//
// A small, tested pattern set (patterns.go): private key blocks (the file is withheld whole),
// URLs with a password (only the password is replaced), literal values assigned to
// password-, secret-, token- and key-named keys whatever their entropy (`password: hunter2`,
// `POSTGRES_PASSWORD=x`, `password=...` inside a key=value DSN), bearer and basic
// authorization values, JWTs, and tokens by their documented prefixes: AWS access keys,
// GitHub, GitLab, Slack (tokens and webhooks), Stripe, Google API keys, OpenAI and Anthropic
// keys, npm, SendGrid and Twilio. The prefixes and shapes are the vendors' documented formats,
// as collected by gitleaks' rules (github.com/gitleaks/gitleaks, MIT) and Yelp's
// detect-secrets (Apache-2.0); the regular expressions here are written for this package.
//
// # Why not a library
//
// gitleaks as a library brings viper, a WebAssembly regular-expression engine, terminal
// styling and a template library; trufflehog is larger still. The light candidate,
// github.com/DefangLabs/secret-detector (a Go port of detect-secrets), was tried: it matches a
// token only when whitespace or quotes surround it (a Slack token followed by a full stop, or a
// GitHub token in parentheses, passed), its keyword rule takes the rest of the line as the
// value (`password=x dbname=app` lost dbname) and flags code such as
// `password_hash = models.CharField(...)`, and it reports low-entropy passwords not at all.
//
// # Reporting
//
// Redact never returns a secret: only its kind and line. After redacting it scans the result
// again and withholds the text if anything is still found.
package secretscan
