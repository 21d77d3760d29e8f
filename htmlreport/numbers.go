package htmlreport

import "strconv"

func itoa(n int) string     { return strconv.Itoa(n) }
func itoa64(n int64) string { return strconv.FormatInt(n, 10) }

// signed writes a difference with its sign: +3, -2, 0.
func signed(n int) string { return signed64(int64(n)) }

func signed64(n int64) string {
	if n > 0 {
		return "+" + itoa64(n)
	}
	return itoa64(n)
}
