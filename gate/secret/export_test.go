package secret

// ReencodePHC parses s as VerifyPassword does and encodes the result again,
// so that tests can check the parser without paying for argon2 each time.
func ReencodePHC(s string) (string, error) {
	h, err := parsePHC(s)
	if err != nil {
		return "", err
	}
	return h.String(), nil
}
