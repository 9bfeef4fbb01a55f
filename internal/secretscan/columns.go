package secretscan

import (
	"strings"
	"unicode"
)

// secretColumnWords are words of a column name that say its values are secret: password,
// api_key, refresh_token, ssn, card_number. A name is split into words at non-letters and at
// lower-to-upper case changes (apiKey); single words are matched whole, pairs as adjacent
// words or glued (apikey).
var secretColumnWords = []string{
	"password", "passwd", "pwd", "passphrase", "secret", "secrets", "token", "tokens",
	"apikey", "accesskey", "privatekey", "secretkey", "signingkey", "credential", "credentials",
	"salt", "otp", "totp", "hotp", "mfa", "pin", "cvv", "cvc", "ssn", "iban", "creditcard",
	"cardnumber", "pan", "passport", "nonce",
}

// secretColumnPairs are two adjacent words that together say so (api_key, card_number).
var secretColumnPairs = [][2]string{
	{"api", "key"}, {"access", "key"}, {"private", "key"}, {"secret", "key"}, {"signing", "key"},
	{"encryption", "key"}, {"auth", "key"}, {"credit", "card"}, {"card", "number"},
	{"social", "security"}, {"tax", "id"}, {"account", "number"}, {"routing", "number"},
}

// SecretColumn reports whether a column's name says its values are secret (password,
// api_key, refreshToken, ssn, card_number, ...) and which word says so. Tools that show
// column values from statistics (profile_table's most common values) mask such columns.
func SecretColumn(name string) (string, bool) {
	words := columnWords(name)
	for i, w := range words {
		for _, s := range secretColumnWords {
			if w == s {
				return w, true
			}
		}
		if i+1 < len(words) {
			for _, p := range secretColumnPairs {
				if w == p[0] && words[i+1] == p[1] {
					return w + "_" + words[i+1], true
				}
			}
		}
	}
	return "", false
}

// columnWords splits a column name into lower-case words: "refreshToken" → refresh, token;
// "API_KEY" → api, key; "user2fa_secret" → user, 2fa, secret.
func columnWords(name string) []string {
	var words []string
	var cur []rune
	flush := func() {
		if len(cur) > 0 {
			words = append(words, strings.ToLower(string(cur)))
			cur = cur[:0]
		}
	}
	var prev rune
	for _, r := range name {
		switch {
		case !unicode.IsLetter(r) && !unicode.IsDigit(r):
			flush()
		case unicode.IsUpper(r) && (unicode.IsLower(prev) || unicode.IsDigit(prev)):
			flush()
			cur = append(cur, r)
		default:
			cur = append(cur, r)
		}
		prev = r
	}
	flush()
	return words
}
