package rules

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"

	"github.com/hearthiot/hearth/store"
)

// AWS IoT SQL's common subset, translated to the rules' expression
// language:
//
//	SELECT <item>[, <item>…] FROM '<topic filter>' [WHERE <condition>]
//
// An item is * (every field of the payload) or an expression with an
// optional AS name; a field path (a.b.c) without AS is named by its last
// part. Expressions use field paths, numbers, 'strings', true, false,
// NULL, + - * / %, = <> != < <= > >=, AND OR NOT, IS [NOT] NULL,
// parentheses, and the functions SQLFunctions lists.

// SQLFunctions are the AWS IoT SQL functions a rule may call.
var SQLFunctions = []string{
	"abs", "ceil", "floor", "round", "sqrt", "power", "mod", "lower", "upper", "concat",
	"topic", "clientid", "timestamp", "isundefined",
}

// SQLError is an AWS IoT SQL statement that cannot be translated, with the
// offset of the problem in the statement.
type SQLError struct {
	Offset  int
	Message string
}

func (e *SQLError) Error() string { return fmt.Sprintf("sql at %d: %s", e.Offset, e.Message) }

func sqlErr(off int, format string, args ...any) error {
	return &SQLError{Offset: off, Message: fmt.Sprintf(format, args...)}
}

// TranslateSQL translates a statement into a topic filter, a condition and
// the fields of a mapping in the expression language.
func TranslateSQL(sql string) (topic, condition string, fields []store.RuleField, err error) {
	src := strings.TrimSpace(sql)
	if !hasKeywordAt(src, 0, "SELECT") {
		return "", "", nil, sqlErr(0, "a statement begins with SELECT")
	}
	from := findKeyword(src, "FROM", 6)
	if from < 0 {
		return "", "", nil, sqlErr(len(src), "FROM 'topic/filter' is missing")
	}
	rest := strings.TrimSpace(src[from+4:])
	restOff := len(src) - len(rest)
	if !strings.HasPrefix(rest, "'") {
		return "", "", nil, sqlErr(restOff, "FROM takes a topic filter in single quotes")
	}
	end := strings.IndexByte(rest[1:], '\'')
	if end < 0 {
		return "", "", nil, sqlErr(restOff, "the topic filter's quote is not closed")
	}
	topic = rest[1 : end+1]
	after := strings.TrimSpace(rest[end+2:])
	if after != "" {
		afterOff := len(src) - len(after)
		if !hasKeywordAt(after, 0, "WHERE") {
			return "", "", nil, sqlErr(afterOff, "only WHERE may follow the topic filter")
		}
		if condition, err = translateExpr(after[5:], afterOff+5); err != nil {
			return "", "", nil, err
		}
		if strings.TrimSpace(condition) == "" {
			return "", "", nil, sqlErr(afterOff, "WHERE needs a condition")
		}
	}
	list := src[6:from]
	for _, item := range splitTop(list, 6) {
		text := strings.TrimSpace(item.text)
		if text == "" {
			return "", "", nil, sqlErr(item.off, "an empty item in the SELECT list")
		}
		if text == "*" {
			fields = append(fields, store.RuleField{Expr: "*"})
			continue
		}
		name := ""
		exprText := text
		if as := findKeyword(text, "AS", 0); as >= 0 {
			name = strings.TrimSpace(text[as+2:])
			exprText = text[:as]
			if !isIdent(name) {
				return "", "", nil, sqlErr(item.off, "AS %q: a name is letters, digits and _", name)
			}
		}
		e, err := translateExpr(exprText, item.off)
		if err != nil {
			return "", "", nil, err
		}
		if name == "" {
			path := strings.TrimSpace(exprText)
			if !isPath(path) {
				return "", "", nil, sqlErr(item.off, "%q needs AS name", path)
			}
			name = path[strings.LastIndexByte(path, '.')+1:]
		}
		fields = append(fields, store.RuleField{Name: name, Expr: e})
	}
	return topic, condition, fields, nil
}

// hasKeywordAt reports whether the word kw (any case) stands at i of s.
func hasKeywordAt(s string, i int, kw string) bool {
	if len(s) < i+len(kw) || !strings.EqualFold(s[i:i+len(kw)], kw) {
		return false
	}
	if i > 0 && isIdentByte(s[i-1]) {
		return false
	}
	return i+len(kw) == len(s) || !isIdentByte(s[i+len(kw)])
}

// findKeyword finds kw outside quotes and parentheses, from i.
func findKeyword(s, kw string, i int) int {
	depth := 0
	for ; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\'':
			j := closeQuote(s, i)
			if j < 0 {
				return -1
			}
			i = j
		case c == '(':
			depth++
		case c == ')':
			depth--
		case depth == 0 && hasKeywordAt(s, i, kw):
			return i
		}
	}
	return -1
}

// closeQuote is the index of the quote closing the string that opens at
// i (” is a quote inside it), or -1.
func closeQuote(s string, i int) int {
	for j := i + 1; j < len(s); j++ {
		if s[j] == '\'' {
			if j+1 < len(s) && s[j+1] == '\'' {
				j++
				continue
			}
			return j
		}
	}
	return -1
}

type piece struct {
	text string
	off  int
}

// splitTop splits s at commas outside quotes and parentheses.
func splitTop(s string, off int) []piece {
	var out []piece
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\'':
			if j := closeQuote(s, i); j >= 0 {
				i = j
			}
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, piece{s[start:i], off + start})
				start = i + 1
			}
		}
	}
	return append(out, piece{s[start:], off + start})
}

func isIdentByte(c byte) bool {
	return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

func isIdent(s string) bool {
	if s == "" || '0' <= s[0] && s[0] <= '9' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isIdentByte(s[i]) {
			return false
		}
	}
	return true
}

func isPath(s string) bool {
	for _, p := range strings.Split(s, ".") {
		if !isIdent(p) {
			return false
		}
	}
	return true
}

// translateExpr rewrites one AWS IoT SQL expression in the expression
// language; off is its offset in the statement, for errors.
func translateExpr(s string, off int) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case unicode.IsSpace(rune(c)):
			b.WriteByte(' ')
			i++
		case c == '\'':
			j := closeQuote(s, i)
			if j < 0 {
				return "", sqlErr(off+i, "a string's quote is not closed")
			}
			b.WriteString(strconv.Quote(strings.ReplaceAll(s[i+1:j], "''", "'")))
			i = j + 1
		case c == '"':
			return "", sqlErr(off+i, "strings are in single quotes")
		case '0' <= c && c <= '9':
			j := i
			for j < len(s) && (isIdentByte(s[j]) || s[j] == '.') {
				j++
			}
			if _, err := strconv.ParseFloat(s[i:j], 64); err != nil {
				return "", sqlErr(off+i, "%q is not a number", s[i:j])
			}
			b.WriteString(s[i:j])
			i = j
		case isIdentByte(c):
			j := i
			for j < len(s) && (isIdentByte(s[j]) || s[j] == '.' && j+1 < len(s) && isIdentByte(s[j+1])) {
				j++
			}
			word := s[i:j]
			k := j
			for k < len(s) && s[k] == ' ' {
				k++
			}
			call := k < len(s) && s[k] == '('
			switch up := strings.ToUpper(word); {
			case up == "AND":
				b.WriteString("&&")
			case up == "OR":
				b.WriteString("||")
			case up == "NOT":
				b.WriteString("!")
			case up == "TRUE" || up == "FALSE":
				b.WriteString(strings.ToLower(up))
			case up == "NULL":
				b.WriteString("nil")
			case up == "IS":
				rest := strings.TrimLeft(s[j:], " ")
				if hasKeywordAt(rest, 0, "NOT") {
					b.WriteString("!=")
					j = len(s) - len(rest) + 3
				} else {
					b.WriteString("==")
				}
			case up == "SELECT" || up == "FROM" || up == "WHERE" || up == "AS" || up == "IN" || up == "CASE" || up == "LIKE":
				return "", sqlErr(off+i, "%s is not supported here", up)
			case call:
				fn := strings.ToLower(word)
				if !isSQLFunction(fn) {
					return "", sqlErr(off+i, "function %s is not supported; these are: %s", word, strings.Join(SQLFunctions, ", "))
				}
				b.WriteString(fn)
			default:
				// A field: absent ones, and parts of absent objects, are nil.
				b.WriteString(strings.ReplaceAll(word, ".", "?."))
			}
			i = j
		case c == '<' && i+1 < len(s) && s[i+1] == '>':
			b.WriteString("!=")
			i += 2
		case c == '=':
			b.WriteString("==")
			i++
			if i < len(s) && s[i] == '=' {
				i++
			}
		case strings.IndexByte("<>!", c) >= 0:
			b.WriteByte(c)
			i++
			if i < len(s) && s[i] == '=' {
				b.WriteByte('=')
				i++
			}
		case strings.IndexByte("+-*/%(),", c) >= 0:
			b.WriteByte(c)
			i++
		case c == '|' && i+1 < len(s) && s[i+1] == '|':
			b.WriteString("+") // string concatenation
			i += 2
		default:
			return "", sqlErr(off+i, "unexpected %q", string(c))
		}
	}
	return strings.TrimSpace(b.String()), nil
}

func isSQLFunction(name string) bool {
	for _, f := range SQLFunctions {
		if f == name {
			return true
		}
	}
	return false
}
