package audit

import (
	"errors"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
)

// ClientIPFunc extracts the client's IP address from a request, as text, or
// returns "" when it cannot tell. There is no safe universal choice: the
// integrator names one, according to how the service is deployed.
type ClientIPFunc func(r *http.Request) string

// PeerIP returns the address of the TCP peer (from r.RemoteAddr), ignoring
// every header. It is the default extractor: correct for a service that
// clients reach directly, and the address of the proxy otherwise.
func PeerIP(r *http.Request) string {
	a, ok := peerAddr(r)
	if !ok {
		return ""
	}
	return a.String()
}

func peerAddr(r *http.Request) (netip.Addr, bool) {
	host := r.RemoteAddr
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap().WithZone(""), true
}

// ErrInvalidCIDR reports a malformed network given to TrustedProxies.
var ErrInvalidCIDR = errors.New("audit: invalid trusted proxy network")

// maxForwardedHops bounds how many X-Forwarded-For entries are examined.
const maxForwardedHops = 32

// TrustedProxies returns an extractor for a service behind reverse proxies
// whose networks are listed in cidrs (for example "10.0.0.0/8" or a single
// address "192.0.2.7"). The X-Forwarded-For header is believed only when the
// TCP peer is one of them; the extractor then walks the header from right to
// left, skipping trusted proxies, and returns the first address that is not
// one: the nearest address a trusted proxy vouched for. A malformed entry ends
// the walk and the last trusted hop is returned, so a client cannot inject
// arbitrary text. With an untrusted peer the peer address is returned.
func TrustedProxies(cidrs ...string) (ClientIPFunc, error) {
	if len(cidrs) == 0 {
		return nil, errors.Join(ErrInvalidCIDR, errors.New("audit: TrustedProxies needs at least one network"))
	}
	nets := make([]netip.Prefix, 0, len(cidrs))
	for i, c := range cidrs {
		var p netip.Prefix
		var err error
		if strings.Contains(c, "/") {
			p, err = netip.ParsePrefix(c)
		} else {
			var a netip.Addr
			a, err = netip.ParseAddr(c)
			if err == nil {
				p = netip.PrefixFrom(a, a.BitLen())
			}
		}
		if err != nil {
			return nil, errors.Join(ErrInvalidCIDR, &cidrError{index: i})
		}
		if p.Addr().Is4In6() {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		nets = append(nets, p.Masked())
	}
	trusted := func(a netip.Addr) bool {
		for _, n := range nets {
			if n.Contains(a) {
				return true
			}
		}
		return false
	}
	return func(r *http.Request) string {
		peer, ok := peerAddr(r)
		if !ok {
			return ""
		}
		if !trusted(peer) {
			return peer.String()
		}
		last := peer
		hops := 0
		values := r.Header.Values("X-Forwarded-For")
		for i := len(values) - 1; i >= 0; i-- {
			parts := strings.Split(values[i], ",")
			for j := len(parts) - 1; j >= 0; j-- {
				hops++
				if hops > maxForwardedHops {
					return last.String()
				}
				a, err := netip.ParseAddr(strings.TrimSpace(parts[j]))
				if err != nil {
					return last.String()
				}
				a = a.Unmap().WithZone("")
				if !trusted(a) {
					return a.String()
				}
				last = a
			}
		}
		return last.String()
	}, nil
}

// cidrError names which argument was malformed, without echoing it.
type cidrError struct{ index int }

func (e *cidrError) Error() string {
	return "audit: trusted proxy network #" + strconv.Itoa(e.index+1) + " is not an address or CIDR prefix"
}
