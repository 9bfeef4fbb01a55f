package secretscan

import (
	"cmp"
	"path"
	"slices"
	"strings"
)

// Marker replaces each secret in a redacted text.
const Marker = "[REDACTED]"

// Finding is one secret found in a text (never the secret itself).
type Finding struct {
	Kind string `json:"kind"` // e.g. "URL with password", "AWS access key", "password assignment"
	Line int    `json:"line"` // 1-based line of the secret in the original text
}

// Result is what Redact found and did.
type Result struct {
	// Text is the input with every secret replaced by Marker (a URL keeps everything but its
	// password). Empty when Withhold is set.
	Text     string
	Findings []Finding
	// Withhold, when set, says why the text must not be returned at all: it holds a private
	// key, or a secret that redaction could not remove.
	Withhold string
}

// deniedNameWords are words of file names (split at . _ - and space) that say the file holds
// secrets wherever they appear: secrets.yaml, db-credentials.json, my_secret.txt.
var deniedNameWords = []string{
	"secret", "secrets", "credential", "credentials", "creds", "htpasswd", "pgpass", "netrc",
	"npmrc", "pypirc", "keystore", "truststore", "kubeconfig", "tfstate", "tfvars",
}

// deniedStems are words that say so only when they are the whole name before the extension:
// passwords.txt, vault.yml, private.json (password_reset.html is a template).
var deniedStems = []string{"password", "passwords", "passwd", "private", "vault", "token", "tokens", "apikey", "apikeys"}

// deniedSuffixes are extensions of key, certificate, keystore and environment files.
var deniedSuffixes = []string{
	".env", ".pem", ".key", ".p8", ".p12", ".pfx", ".jks", ".keystore", ".crt", ".cer", ".der",
	".kdbx", ".gpg", ".asc", ".ppk", ".ovpn", ".tfstate", ".tfvars", ".age",
}

// deniedPrefixes: .env, .env.local, .env.production; SSH keys id_rsa, id_ed25519 and their .pub.
var deniedPrefixes = []string{".env", "id_rsa", "id_dsa", "id_ecdsa", "id_ed25519", ".git-credentials", ".my.cnf", ".s3cfg", ".boto", ".pgpass", ".netrc"}

// DeniedName reports whether a file's name says it holds secrets, and why. It looks at the
// base name only, case-insensitively.
func DeniedName(name string) (string, bool) {
	n := strings.ToLower(path.Base(strings.ReplaceAll(name, "\\", "/")))
	for _, p := range deniedPrefixes {
		if strings.HasPrefix(n, p) {
			return "its name starts with " + p + ", which marks a file that holds secrets", true
		}
	}
	for _, s := range deniedSuffixes {
		if strings.HasSuffix(n, s) {
			return "its name ends in " + s + ", which marks a key, certificate or environment file", true
		}
	}
	words := strings.FieldsFunc(n, func(r rune) bool { return r == '.' || r == '_' || r == '-' || r == ' ' })
	for _, w := range words {
		if slices.Contains(deniedNameWords, w) {
			return "its name (" + w + ") says it holds secrets", true
		}
	}
	if stem, _, _ := strings.Cut(strings.TrimPrefix(n, "."), "."); slices.Contains(deniedStems, stem) {
		return "its name (" + stem + ") says it holds secrets", true
	}
	return "", false
}

// secret is one occurrence of a secret in the text.
type secret struct {
	p          *pattern
	start, end int // byte offsets of the secret itself
}

// find returns the secrets in text, in order of position; overlapping ones are merged into
// the earlier (or longer) one.
func find(text string) []secret {
	var out []secret
	for i := range patterns {
		p := &patterns[i]
		for _, m := range p.re.FindAllStringSubmatchIndex(text, -1) {
			start, end := m[0], m[1]
			switch {
			case p.group > 0:
				start, end = m[2*p.group], m[2*p.group+1]
			case p.group < 0: // the first group that matched
				start = -1
				for g := 1; 2*g < len(m); g++ {
					if m[2*g] >= 0 {
						start, end = m[2*g], m[2*g+1]
						break
					}
				}
				if start < 0 || !literalValue(text[start:end]) {
					continue
				}
			}
			if p.bounded && end < len(text) && isWordByte(text[end]) {
				continue
			}
			if start >= 0 && end > start && !strings.Contains(text[start:end], Marker) {
				out = append(out, secret{p: p, start: start, end: end})
			}
		}
	}
	slices.SortFunc(out, func(a, b secret) int { return cmp.Or(a.start-b.start, b.end-a.end) })
	merged := out[:0]
	for _, s := range out {
		if n := len(merged); n > 0 && s.start < merged[n-1].end {
			merged[n-1].end = max(merged[n-1].end, s.end)
			continue
		}
		merged = append(merged, s)
	}
	return merged
}

func isWordByte(b byte) bool {
	return b == '_' || b >= '0' && b <= '9' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z'
}

// literalValue rejects assigned values that are references or placeholders, not secrets.
func literalValue(v string) bool {
	switch strings.ToLower(v) {
	case "", "null", "none", "nil", "true", "false", "~", "required", "optional":
		return false
	}
	return !strings.HasPrefix(v, "$") && !strings.HasPrefix(v, "{{") && !strings.HasPrefix(v, "%(") &&
		!strings.HasPrefix(v, "<") && !strings.HasPrefix(v, Marker)
}

// Redact finds the secrets in text and returns it with each one replaced by Marker, and what
// it found, by kind and line. A text holding a private key is withheld whole; so is one in
// which a secret is still found after redaction.
func Redact(text string) Result {
	var res Result
	var b strings.Builder
	last := 0
	for _, s := range find(text) {
		res.Findings = append(res.Findings, Finding{Kind: s.p.kind, Line: 1 + strings.Count(text[:s.start], "\n")})
		if s.p.withhold {
			res.Withhold = "it holds a " + s.p.kind
		}
		b.WriteString(text[last:s.start])
		b.WriteString(Marker)
		last = s.end
	}
	b.WriteString(text[last:])
	res.Findings = slices.Compact(res.Findings)
	if res.Withhold != "" {
		return res
	}
	redacted := b.String()
	if again := find(redacted); len(again) > 0 {
		res.Withhold = "it holds a " + again[0].p.kind + " that could not be redacted safely"
		return res
	}
	res.Text = redacted
	return res
}
