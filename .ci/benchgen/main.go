// Command benchgen writes and changes the data set of bench-restic.sh:
// random files, clinical-text notes and a database dump, then the changes
// the incremental backups are measured on. It is not part of the module's
// packages (the directory starts with a dot) and runs only from the script.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/hipaakit/hipaakit/phi/localkek"
)

func main() {
	out := flag.String("out", "", "data directory")
	mode := flag.String("mode", "init", "init | shift | edit | text | key")
	files := flag.Int("random", 200, "init: random files of 2 MiB")
	notes := flag.Int("notes", 2000, "init: clinical-text notes")
	dumpMiB := flag.Int("dump", 200, "init: size of dump.sql in MiB")
	flag.Parse()
	if err := run(*out, *mode, *files, *notes, *dumpMiB); err != nil {
		fmt.Fprintln(os.Stderr, "benchgen:", err)
		os.Exit(1)
	}
}

func text(r *rand.Rand, n int) []byte {
	words := []string{"patient", "reports", "mild", "pain", "since", "last", "visit", "blood", "pressure", "stable",
		"prescribed", "follow-up", "in", "two", "weeks", "no", "known", "allergies", "history", "of", "asthma",
		"denies", "fever", "chest", "discomfort", "plan", "continue", "metformin", "500", "mg", "twice", "daily"}
	var b bytes.Buffer
	for b.Len() < n {
		fmt.Fprintf(&b, "%04d-%02d-%02d MRN %07d: ", 2000+r.IntN(26), 1+r.IntN(12), 1+r.IntN(28), r.IntN(1e7))
		for i := 0; i < 10+r.IntN(30); i++ {
			b.WriteString(words[r.IntN(len(words))])
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "BP %d/%d HR %d\n", 100+r.IntN(60), 60+r.IntN(40), 50+r.IntN(60))
	}
	return b.Bytes()[:n]
}

func random(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for j := 0; j < 8; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

func run(out, mode string, files, notes, dumpMiB int) error {
	r := rand.New(rand.NewPCG(1, uint64(len(mode))))
	switch mode {
	case "key":
		_, err := localkek.FromDir(out)
		return err
	case "init":
		for _, d := range []string{"random", "notes"} {
			if err := os.MkdirAll(filepath.Join(out, d), 0o700); err != nil {
				return err
			}
		}
		for i := 0; i < files; i++ {
			if err := os.WriteFile(filepath.Join(out, "random", fmt.Sprintf("r%04d.bin", i)), random(r, 2<<20), 0o600); err != nil {
				return err
			}
		}
		for i := 0; i < notes; i++ {
			if err := os.WriteFile(filepath.Join(out, "notes", fmt.Sprintf("n%05d.txt", i)), text(r, 1024+r.IntN(8192)), 0o600); err != nil {
				return err
			}
		}
		// The dump: mostly incompressible, like a dump of encrypted columns.
		return os.WriteFile(filepath.Join(out, "dump.sql"), random(r, dumpMiB<<20), 0o600)
	case "shift":
		p := filepath.Join(out, "dump.sql")
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		ins := append(bytes.Repeat([]byte("-- inserted line\n"), 9), "-- 7b\n"...)[:160]
		return os.WriteFile(p, append(append(b[:4096:4096], ins...), b[4096:]...), 0o600)
	case "edit":
		for i := 0; i < 20; i++ {
			p := filepath.Join(out, "random", fmt.Sprintf("r%04d.bin", i*files/20))
			f, err := os.OpenFile(p, os.O_WRONLY, 0)
			if err != nil {
				return err
			}
			_, err = f.WriteAt([]byte{byte(r.Uint32())}, int64(r.IntN(2<<20)))
			f.Close()
			if err != nil {
				return err
			}
		}
		return nil
	case "text":
		return os.WriteFile(filepath.Join(out, "notes", "new-16MiB.txt"), text(r, 16<<20), 0o600)
	}
	return fmt.Errorf("unknown mode %q", mode)
}
