package secretscan

import "regexp"

// pattern is one kind of secret: re matches it; the secret is submatch group (0 = the whole
// match). withhold marks secrets that make the whole file unfit to return (a private key is
// the file's point; redacting its lines would still leave its structure and comments).
type pattern struct {
	kind     string
	re       *regexp.Regexp
	group    int
	withhold bool
	// bounded: the secret (group 1) must not be followed by a letter, digit or _ (checked in
	// code: Go's regexp has no lookahead).
	bounded bool
}

// patterns is the set Redact applies, in order. Token patterns require a non-word character
// (or the text's edge) on both sides, so a token inside prose, quotes, parentheses or
// followed by punctuation is found, and a longer identifier is not mistaken for one.
var patterns = []pattern{
	{kind: "private key", withhold: true,
		re: regexp.MustCompile(`-----BEGIN[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----|PuTTY-User-Key-File-\d+:`)},
	// scheme://user:password@host — only the password is replaced. A password that is a
	// reference ($VAR, ${VAR}, {{ x }}) is not a secret.
	{kind: "URL with password", group: 1,
		re: regexp.MustCompile(`\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s:@/'"<>]*:([^\s@/'"<>${}]+)@`)},
	{kind: "authorization header", group: 1,
		re: regexp.MustCompile(`(?i)\b(?:bearer|basic|token)[ \t]+([A-Za-z0-9._~+/-]{16,}=*)`)},
	{kind: "JSON Web Token",
		re: regexp.MustCompile(`\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}`)},
	{kind: "AWS access key", group: 1, bounded: true, re: token(`(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}`)},
	{kind: "GitHub token", group: 1, bounded: true, re: token(`(?:gh[pousr]_[A-Za-z0-9_]{36,255}|github_pat_[A-Za-z0-9_]{22,255})`)},
	{kind: "GitLab token", group: 1, bounded: true, re: token(`glpat-[A-Za-z0-9_-]{20,}`)},
	{kind: "Slack token", group: 1, bounded: true, re: token(`(?:xox[abposre]|xapp)-[A-Za-z0-9-]{10,}`)},
	{kind: "Slack webhook", re: regexp.MustCompile(`https://hooks\.slack\.com/(?:services|workflows)/[A-Za-z0-9_/]{20,}`)},
	{kind: "Stripe key", group: 1, bounded: true, re: token(`(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,}`)},
	{kind: "Google API key", group: 1, bounded: true, re: token(`AIza[0-9A-Za-z_-]{35}`)},
	{kind: "OpenAI or Anthropic key", group: 1, bounded: true, re: token(`sk-(?:proj-|ant-[a-z0-9]+-)?[A-Za-z0-9_-]{32,}`)},
	{kind: "npm token", group: 1, bounded: true, re: token(`npm_[A-Za-z0-9]{36}`)},
	{kind: "SendGrid key", group: 1, bounded: true, re: token(`SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}`)},
	{kind: "Twilio key", group: 1, bounded: true, re: token(`SK[0-9a-f]{32}`)},
	// A literal value assigned to a password-like key, whatever its entropy. The key must end
	// in the sensitive word (password_hash and token_count are not secrets); the value is
	// quoted, or a bare word followed by the end of the line, a comment, a separator, a quote
	// or the next key=value pair of a DSN (so `pwd = os.getcwd()` and
	// `password = request.form['password']` are code, not secrets).
	// References ($VAR, ${VAR}, {{ x }}, %(x)s) and null-like words are excluded (literalValue).
	{kind: "password assignment", group: -1,
		re: regexp.MustCompile(`(?im)(?:^|[\s{,;(])["']?[a-z0-9_.-]*?(?:[_.-]|\b)(?:password|passwd|passphrase|pwd|pass|secret|token|api[_-]?key|access[_-]?key|secret[_-]?key|private[_-]?key|auth[_-]?token|client[_-]?secret)["']?[ \t]*(?::=|[:=])[ \t]*(?:"([^"\r\n]+)"|'([^'\r\n]+)'|([^\s"'#,;(){}\[\]<>$%]+)(?:[ \t]*(?:[#,;}"']|//|\r?$)|[ \t]+[A-Za-z_][A-Za-z0-9_]*=))`)},
}

// token compiles a token pattern that must stand on its own: not preceded by a letter, digit
// or _ (the boundary character is matched, the token is group 1; the end is checked by
// Redact, see bounded).
func token(re string) *regexp.Regexp {
	return regexp.MustCompile(`(?:^|[^A-Za-z0-9_])(` + re + `)`)
}
