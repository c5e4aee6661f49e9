//! Who the client is when Attest runs behind load balancers: the connection's peer,
//! unless that peer is a trusted proxy (`ATTEST_TRUSTED_PROXIES`), in which case
//! `X-Forwarded-For` is read from the right, past every trusted hop, to the first
//! address a trusted proxy saw connect. A client's own `X-Forwarded-For` entries sit to
//! the left of that and are never believed.

use crate::activity::RequestOrigin;
use ipnet::IpNet;
use std::net::IpAddr;

/// IPv4-mapped IPv6 (`::ffff:a.b.c.d`) as the IPv4 address it is.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

fn trusted_hop(ip: IpAddr, trusted: &[IpNet]) -> bool {
    trusted.iter().any(|net| net.contains(&ip))
}

/// The client's address for `peer` and the request's headers.
pub fn client_ip(peer: IpAddr, headers: &http::HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let peer = canonical(peer);
    if !trusted_hop(peer, trusted) {
        return peer;
    }
    let hops = headers.get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).map(str::trim).collect::<Vec<_>>();
    let mut client = peer;
    for hop in hops.iter().rev() {
        // A hop that is not an address ends the chain: what lies left of it was written
        // by someone we cannot vouch for.
        let Ok(ip) = hop.parse::<IpAddr>().map(canonical) else { break };
        client = ip;
        if !trusted_hop(ip, trusted) {
            break;
        }
    }
    client
}

/// Address and user agent for the activity log and the sign-in throttle.
pub fn origin(peer: Option<IpAddr>, headers: &http::HeaderMap, trusted: &[IpNet]) -> RequestOrigin {
    let ip = peer.map(|peer| client_ip(peer, headers, trusted).to_string());
    // The user agent is stored and shown: cut it short and keep only printable text.
    let user_agent =
        headers.get(http::header::USER_AGENT).and_then(|v| v.to_str().ok()).map(|ua| ua.chars().filter(|c| !c.is_control()).take(512).collect::<String>());
    RequestOrigin { ip, user_agent }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &[&str]) -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        for v in xff {
            h.append("x-forwarded-for", v.parse().unwrap());
        }
        h
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let lb: IpAddr = "10.0.0.5".parse().unwrap();
        let stranger: IpAddr = "198.51.100.9".parse().unwrap();
        // Straight from the internet: the header is the client's own words.
        assert_eq!(client_ip(stranger, &headers(&["203.0.113.1"]), &trusted), stranger);
        // Through the balancer: the right-most untrusted hop.
        assert_eq!(client_ip(lb, &headers(&["203.0.113.1"]), &trusted).to_string(), "203.0.113.1");
        // A forged entry to the left of the real one is ignored.
        assert_eq!(client_ip(lb, &headers(&["1.2.3.4, 203.0.113.1"]), &trusted).to_string(), "203.0.113.1");
        assert_eq!(client_ip(lb, &headers(&["1.2.3.4", "203.0.113.1, 10.0.0.7"]), &trusted).to_string(), "203.0.113.1");
        // Garbage ends the chain at the last hop a proxy vouched for.
        assert_eq!(client_ip(lb, &headers(&["203.0.113.1, nonsense"]), &trusted), lb);
        // No proxies configured: never believed.
        assert_eq!(client_ip(lb, &headers(&["203.0.113.1"]), &[]), lb);
        assert_eq!(client_ip("::ffff:10.0.0.5".parse().unwrap(), &headers(&["203.0.113.1"]), &trusted).to_string(), "203.0.113.1");
    }
}
