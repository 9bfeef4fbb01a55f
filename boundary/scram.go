package boundary

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
)

// SCRAM parameters, as Postgres' own pg_fe_scram_build_secret (RFC 5802 / RFC 7677).
const (
	scramSaltLen    = 16
	scramIterations = 4096
)

// ScramVerifier returns the SCRAM-SHA-256 verifier Postgres stores in pg_authid.rolpassword:
//
//	SCRAM-SHA-256$<iterations>:<base64 salt>$<base64 StoredKey>:<base64 ServerKey>
//
// Sending this instead of the password means the plaintext never reaches the server, its logs or
// pg_stat_statements. Postgres applies SASLprep to non-ASCII passwords and clients differ in
// how they do it, so only printable ASCII passwords are accepted (they are identical under
// every normalisation).
func ScramVerifier(password string) (string, error) {
	salt := make([]byte, scramSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("generate SCRAM salt: %w", err)
	}
	return scramVerifier(password, salt, scramIterations)
}

func scramVerifier(password string, salt []byte, iterations int) (string, error) {
	if password == "" {
		return "", errors.New("runtime password is empty: set AGENT_MV_RUNTIME_PASSWORD (Postgres refuses empty passwords)")
	}
	for _, r := range password {
		if r < 0x20 || r > 0x7e {
			return "", errors.New("runtime password must be printable ASCII: Postgres normalises other characters (SASLprep) in ways clients do not all reproduce")
		}
	}
	salted, err := pbkdf2.Key(sha256.New, password, salt, iterations, sha256.Size)
	if err != nil {
		return "", fmt.Errorf("derive SCRAM key: %w", err)
	}
	clientKey := hmacSHA256(salted, "Client Key")
	storedKey := sha256.Sum256(clientKey)
	serverKey := hmacSHA256(salted, "Server Key")
	b64 := base64.StdEncoding.EncodeToString
	return fmt.Sprintf("SCRAM-SHA-256$%d:%s$%s:%s", iterations, b64(salt), b64(storedKey[:]), b64(serverKey)), nil
}

func hmacSHA256(key []byte, msg string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

// checkVerifier checks that a verifier holds only the characters a verifier can contain, so
// its literal in CREATE/ALTER ROLE ... PASSWORD cannot break out of its quotes.
func checkVerifier(v string) error {
	for _, r := range v {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
			r == '+' || r == '/' || r == '=' || r == '$' || r == ':' || r == '-'
		if !ok {
			return fmt.Errorf("internal error: unexpected character %q in SCRAM verifier", r)
		}
	}
	return nil
}
