//! The SPF evaluator's DNS (proto::spf::SpfDns) answered by our resolver (net::Dns), so SPF
//! lookups are logged as evidence like every other DNS question of a run.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use mxdoctor_net::{Dns, DnsError, RecordType};
use mxdoctor_proto::spf::{SpfDns, SpfDnsError};

pub struct NetSpfDns<'a>(pub &'a Dns);

fn map_err(e: DnsError) -> SpfDnsError {
    match e {
        DnsError::NxDomain { .. } => SpfDnsError::NotFound,
        DnsError::NoRecords { .. } => SpfDnsError::NoData,
        DnsError::BadName { .. } => SpfDnsError::BadName,
        other => SpfDnsError::TempFail(other.to_string()),
    }
}

impl NetSpfDns<'_> {
    async fn records(&self, name: &str, rtype: RecordType) -> Result<Vec<mxdoctor_net::DnsRecord>, SpfDnsError> {
        self.0.lookup(name, rtype).await.map_err(map_err)
    }
}

impl SpfDns for NetSpfDns<'_> {
    async fn txt(&self, name: &str) -> Result<Vec<String>, SpfDnsError> {
        Ok(self
            .records(name, RecordType::TXT)
            .await?
            .iter()
            .filter_map(|r| r.txt())
            .collect())
    }

    async fn a(&self, name: &str) -> Result<Vec<Ipv4Addr>, SpfDnsError> {
        Ok(self
            .records(name, RecordType::A)
            .await?
            .iter()
            .filter_map(|r| match r.rdata {
                mxdoctor_net::Rdata::A(v4) => Some(v4),
                _ => None,
            })
            .collect())
    }

    async fn aaaa(&self, name: &str) -> Result<Vec<Ipv6Addr>, SpfDnsError> {
        Ok(self
            .records(name, RecordType::AAAA)
            .await?
            .iter()
            .filter_map(|r| match r.rdata {
                mxdoctor_net::Rdata::Aaaa(v6) => Some(v6),
                _ => None,
            })
            .collect())
    }

    async fn mx(&self, name: &str) -> Result<Vec<String>, SpfDnsError> {
        let mut mx: Vec<(u16, String)> = self
            .records(name, RecordType::MX)
            .await?
            .iter()
            .filter_map(|r| r.mx().map(|(pref, host)| (pref, host.to_string())))
            .collect();
        mx.sort();
        Ok(mx.into_iter().map(|(_, h)| h).collect())
    }

    async fn ptr(&self, ip: IpAddr) -> Result<Vec<String>, SpfDnsError> {
        self.0.reverse(ip).await.map_err(map_err)
    }
}
