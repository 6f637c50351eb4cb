//! Real servers for the interoperability suite: private instances of Debian's Postfix, Dovecot
//! and NSD, configured in a temporary directory, listening on loopback ports only, started at
//! the beginning and stopped by PID at the end (also when a test panics: `Drop`).
//!
//! Postfix never delivers (every transport is `error:`), never asks the system resolver
//! (`smtpd_peername_lookup = no`, no DNS lookups: `disable_dns_lookups`-style settings), and
//! authenticates through Dovecot's auth socket, only after TLS.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where the binaries are (Debian's paths); a missing one fails the suite with the fix.
const POSTFIX: &str = "/usr/sbin/postfix";
const DOVECOT: &str = "/usr/sbin/dovecot";
const NSD: &str = "/usr/sbin/nsd";

pub fn require_binaries() {
    for b in [POSTFIX, DOVECOT, NSD] {
        assert!(
            Path::new(b).exists(),
            "{b} is missing: the interoperability suite needs Debian's postfix, dovecot-imapd, \
             dovecot-pop3d and nsd; run `bash scripts/install-test-deps.sh` (the README's test \
             command, `bash scripts/test.sh`, does it)"
        );
    }
}

/// A free loopback port (bound, read, released), never one handed out before in this run: the
/// kernel may offer a just-released port again, and two servers must not be told the same one.
pub fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free loopback port");
        let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
}

/// Waits until `addr` accepts TCP connections (the server is up), or panics with its log.
pub fn wait_tcp(addr: SocketAddr, what: &str, log: &Path) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(15) {
        if std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let log = std::fs::read_to_string(log).unwrap_or_default();
    panic!("{what} did not start listening on {addr}; its log:\n{log}");
}

pub fn write(path: &Path, text: &str) {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).expect("mkdir");
    }
    std::fs::write(path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

fn run(cmd: &mut Command, what: &str) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// One certificate on disk: the chain file (leaf first, then what the server sends) and key.
#[derive(Debug, Clone)]
pub struct CertFiles {
    pub key: PathBuf,
    pub chain: PathBuf,
}

/// A PEM block.
pub fn pem(label: &str, der: &[u8]) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// A listener of the Postfix instance: its port, TLS mode and certificate.
pub struct PostfixPort {
    pub port: u16,
    /// `smtps`: TLS from the first byte (smtpd_tls_wrappermode).
    pub wrapper: bool,
    pub cert: CertFiles,
    /// Offer AUTH (through Dovecot), after TLS only.
    pub auth: bool,
    /// SNI name -> certificate (tls_server_sni_maps).
    pub sni: Vec<(String, CertFiles)>,
    /// More `-o name=value` overrides for this smtpd (e.g. no TLS at all).
    pub extra: Vec<String>,
}

/// The running servers; dropping this stops them all.
pub struct Servers {
    pub dir: PathBuf,
    postfix_conf: PathBuf,
    children: Vec<Child>,
    pid_files: Vec<PathBuf>,
}

impl Drop for Servers {
    fn drop(&mut self) {
        let _ = Command::new(POSTFIX)
            .args(["-c", &self.postfix_conf.to_string_lossy(), "stop"])
            .output();
        for f in &self.pid_files {
            if let Ok(pid) = std::fs::read_to_string(f) {
                let _ = Command::new("kill").arg(pid.trim()).output();
            }
        }
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Servers {
    /// The messages Postfix delivered to taro@receiver.example (Maildir `new/`), oldest first.
    pub fn delivered(&self) -> Vec<Vec<u8>> {
        let dir = self.dir.join("postfix/mail/taro/new");
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        files.sort();
        files.iter().filter_map(|f| std::fs::read(f).ok()).collect()
    }

    pub fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("mxdoctor-interop-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        // Postfix's and Dovecot's unprivileged users must reach their files.
        run(Command::new("chmod").args(["755", &dir.to_string_lossy()]), "chmod");
        Self {
            postfix_conf: dir.join("postfix/etc"),
            dir,
            children: Vec::new(),
            pid_files: Vec::new(),
        }
    }

    pub fn cert_files(&self, name: &str, chain: &[Vec<u8>], key_pkcs8: &[u8]) -> CertFiles {
        let key = self.dir.join(format!("certs/{name}.key"));
        let chain_path = self.dir.join(format!("certs/{name}.pem"));
        write(&key, &pem("PRIVATE KEY", key_pkcs8));
        write(
            &chain_path,
            &chain.iter().map(|c| pem("CERTIFICATE", c)).collect::<String>(),
        );
        run(Command::new("chmod").args(["644", &key.to_string_lossy()]), "chmod key");
        CertFiles { key, chain: chain_path }
    }

    /// NSD serving `zones` (origin, zone text) on 127.0.0.1:port (UDP and TCP).
    pub fn start_nsd(&mut self, zones: &[(&str, String)]) -> SocketAddr {
        let d = self.dir.join("nsd");
        let port = free_port();
        let mut conf = format!(
            "server:\n  ip-address: 127.0.0.1@{port}\n  port: {port}\n  username: \"\"\n  chroot: \"\"\n  \
             zonesdir: \"{d}\"\n  database: \"\"\n  zonelistfile: \"{d}/zone.list\"\n  pidfile: \"{d}/nsd.pid\"\n  \
             xfrdfile: \"{d}/xfrd.state\"\n  xfrdir: \"{d}\"\n  logfile: \"{d}/nsd.log\"\n  verbosity: 1\n  \
             server-count: 1\n  hide-version: yes\nremote-control:\n  control-enable: no\n",
            d = d.display()
        );
        for (origin, text) in zones {
            write(&d.join(format!("{origin}.zone")), text);
            conf.push_str(&format!("zone:\n  name: \"{origin}\"\n  zonefile: \"{origin}.zone\"\n"));
        }
        write(&d.join("nsd.conf"), &conf);
        let child = Command::new(NSD)
            .args(["-c", &d.join("nsd.conf").to_string_lossy(), "-d"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nsd starts");
        self.children.push(child);
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
        wait_tcp(addr, "NSD", &d.join("nsd.log"));
        addr
    }

    /// Dovecot with IMAPS and POP3S on loopback, one user, and the auth socket Postfix uses.
    /// Returns (imaps port, pop3s port, auth socket path).
    pub fn start_dovecot(&mut self, cert: &CertFiles, user: &str, password: &str) -> (u16, u16, PathBuf) {
        let d = self.dir.join("dovecot");
        let (imaps, pop3s) = (free_port(), free_port());
        write(&d.join("users"), &format!("{user}:{{PLAIN}}{password}\n"));
        std::fs::create_dir_all(d.join("run")).expect("run dir");
        std::fs::create_dir_all(d.join("state")).expect("state dir");
        let conf = format!(
            r#"base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
protocols = imap pop3
listen = 127.0.0.1
ssl = required
ssl_cert = <{cert}
ssl_key = <{key}
disable_plaintext_auth = yes
auth_mechanisms = plain login
auth_failure_delay = 0
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {d}/users
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={d}/home
}}
service imap-login {{
  inet_listener imap {{
    port = 0
  }}
  inet_listener imaps {{
    port = {imaps}
    ssl = yes
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    port = 0
  }}
  inet_listener pop3s {{
    port = {pop3s}
    ssl = yes
  }}
}}
service auth {{
  unix_listener auth-postfix {{
    mode = 0666
  }}
}}
"#,
            d = d.display(),
            cert = cert.chain.display(),
            key = cert.key.display(),
        );
        write(&d.join("dovecot.conf"), &conf);
        let child = Command::new(DOVECOT)
            .args(["-c", &d.join("dovecot.conf").to_string_lossy(), "-F"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("dovecot starts");
        self.children.push(child);
        let log = d.join("dovecot.log");
        wait_tcp(
            format!("127.0.0.1:{imaps}").parse().expect("addr"),
            "Dovecot IMAPS",
            &log,
        );
        wait_tcp(
            format!("127.0.0.1:{pop3s}").parse().expect("addr"),
            "Dovecot POP3S",
            &log,
        );
        (imaps, pop3s, d.join("run/auth-postfix"))
    }

    /// Postfix with one smtpd per port; `myhostname` greets.
    pub fn start_postfix(&mut self, myhostname: &str, ports: &[PostfixPort], auth_socket: &Path) {
        let base = self.dir.join("postfix");
        let etc = base.join("etc");
        for sub in ["queue", "data", "mail"] {
            std::fs::create_dir_all(base.join(sub)).expect("postfix dirs");
        }
        // The virtual delivery agent writes as nobody (uid 65534) into the mail directory.
        run(
            Command::new("chmod").args(["1777", &base.join("mail").to_string_lossy()]),
            "chmod mail",
        );
        let mut main = format!(
            "compatibility_level = 3.6\nqueue_directory = {b}/queue\ndata_directory = {b}/data\n\
             mail_owner = postfix\nsetgid_group = postdrop\ninet_interfaces = 127.0.0.1\ninet_protocols = ipv4\n\
             myhostname = {myhostname}\nmydestination =\nalias_maps =\nalias_database =\nlocal_recipient_maps =\n\
             smtpd_peername_lookup = no\nsmtp_dns_support_level = disabled\n\
             default_transport = error:interop\nrelay_transport = error:interop\n\
             maillog_file_prefixes = {b}\nmaillog_file = {b}/postfix.log\n\
             smtpd_banner = $myhostname ESMTP Postfix\n\
             smtpd_tls_security_level = may\nsmtpd_tls_auth_only = yes\n\
             smtpd_sasl_type = dovecot\nsmtpd_sasl_path = {sock}\n\
             smtpd_relay_restrictions = permit_sasl_authenticated, reject_unauth_destination\n\
             smtpd_authorized_xclient_hosts = 127.0.0.1\n\
             smtpd_client_event_limit_exceptions = 127.0.0.0/8\nsmtpd_error_sleep_time = 0\n\
             virtual_mailbox_domains = receiver.example\nvirtual_mailbox_base = {b}/mail\n\
             virtual_mailbox_maps = static:taro/\nvirtual_uid_maps = static:65534\nvirtual_gid_maps = static:65534\n\
             virtual_transport = virtual\n",
            b = base.display(),
            sock = auth_socket.display(),
        );
        let mut sni_lines = String::new();
        let mut master = String::new();
        for p in ports {
            let mut opts = vec![format!(
                "-o smtpd_tls_chain_files={},{}",
                p.cert.key.display(),
                p.cert.chain.display()
            )];
            if p.wrapper {
                opts.push("-o smtpd_tls_wrappermode=yes".into());
            }
            opts.push(format!(
                "-o smtpd_sasl_auth_enable={}",
                if p.auth { "yes" } else { "no" }
            ));
            opts.extend(p.extra.iter().map(|o| format!("-o {o}")));
            master.push_str(&format!(
                "127.0.0.1:{} inet n - n - - smtpd\n  {}\n",
                p.port,
                opts.join("\n  ")
            ));
            for (name, files) in &p.sni {
                sni_lines.push_str(&format!("{name} {} {}\n", files.key.display(), files.chain.display()));
            }
        }
        if !sni_lines.is_empty() {
            // Postfix SNI: a map of name -> key and chain files, compiled by postmap -F.
            write(&etc.join("sni"), &sni_lines);
            main.push_str(&format!("tls_server_sni_maps = hash:{}/sni\n", etc.display()));
        }
        master.push_str(
            "pickup unix n - n 60 1 pickup\ncleanup unix n - n - 0 cleanup\nqmgr unix n - n 300 1 qmgr\n\
             tlsmgr unix - - n 1000? 1 tlsmgr\nrewrite unix - - n - - trivial-rewrite\nbounce unix - - n - 0 bounce\n\
             defer unix - - n - 0 bounce\ntrace unix - - n - 0 bounce\nverify unix - - n - 1 verify\n\
             flush unix n - n 1000? 0 flush\nproxymap unix - - n - - proxymap\nsmtp unix - - n - - smtp\n\
             relay unix - - n - - smtp\nshowq unix n - n - - showq\nerror unix - - n - - error\n\
             retry unix - - n - - error\ndiscard unix - - n - - discard\nlocal unix - n n - - local\n\
             anvil unix - - n - 1 anvil\nscache unix - - n - 1 scache\npostlog unix-dgram n - n - 1 postlogd\n\
             virtual unix - n n - - virtual\n",
        );
        write(&etc.join("main.cf"), &main);
        write(&etc.join("master.cf"), &master);
        if !sni_lines.is_empty() {
            run(
                Command::new("postmap").args(["-F", &format!("hash:{}/sni", etc.display())]),
                "postmap -F",
            );
        }
        run(
            Command::new("chown").args(["-R", "postfix", &base.join("data").to_string_lossy()]),
            "chown postfix data",
        );
        let conf = etc.to_string_lossy().into_owned();
        run(Command::new(POSTFIX).args(["-c", &conf, "start"]), "postfix start");
        self.postfix_conf = etc;
        for p in ports {
            wait_tcp(
                format!("127.0.0.1:{}", p.port).parse().expect("addr"),
                "Postfix",
                &base.join("postfix.log"),
            );
        }
    }
}
