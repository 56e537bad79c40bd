package backup

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// The package's zstd encoder and decoder, shared by every repository; both
// are safe for concurrent use.
var (
	zstdEncoder = sync.OnceValues(func() (*zstd.Encoder, error) {
		return zstd.NewWriter(nil,
			zstd.WithEncoderLevel(zstd.SpeedFastest),
			zstd.WithEncoderConcurrency(runtime.GOMAXPROCS(0)),
			zstd.WithEncoderCRC(false), // the GCM tag and the keyed hash authenticate
		)
	})
	// The decoder never writes beyond the capacity of its destination
	// (WithDecodeAllCapLimit), which decompress sets to the declared size,
	// and refuses windows and frames beyond MaxChunkSize.
	zstdDecoder = sync.OnceValues(func() (*zstd.Decoder, error) {
		return zstd.NewReader(nil,
			zstd.WithDecoderConcurrency(runtime.GOMAXPROCS(0)),
			zstd.WithDecodeAllCapLimit(true),
			zstd.WithDecoderMaxMemory(MaxChunkSize),
			zstd.WithDecoderMaxWindow(MaxChunkSize),
		)
	})
)

// compress appends the zstd frame of src to dst.
func compress(dst, src []byte) ([]byte, error) {
	e, err := zstdEncoder()
	if err != nil {
		return nil, fmt.Errorf("backup: zstd: %w", err)
	}
	return e.EncodeAll(src, dst), nil
}

// decompress decodes the zstd frame z, which must decode to exactly size
// bytes, into dst. A frame that declares another content size, or decodes
// to more (a compression bomb) or fewer bytes, fails with ErrCorrupt; no
// more than size bytes are ever allocated for the output.
func decompress(dst, z []byte, size int) ([]byte, error) {
	var h zstd.Header
	if err := h.Decode(z); err != nil || h.Skippable || h.HasFCS && h.FrameContentSize != uint64(size) {
		return nil, corruptf("compressed chunk does not declare its size")
	}
	d, err := zstdDecoder()
	if err != nil {
		return nil, fmt.Errorf("backup: zstd: %w", err)
	}
	dst = slices.Grow(dst[:0], size)
	out, err := d.DecodeAll(z, dst[:0:size])
	switch {
	case errors.Is(err, zstd.ErrDecoderSizeExceeded):
		return nil, corruptf("compressed chunk decompresses beyond its declared size")
	case err != nil:
		return nil, corruptf("compressed chunk does not decompress")
	case len(out) != size:
		return nil, corruptf("compressed chunk decompresses to the wrong size")
	}
	return dst[:size], nil
}
