//! The command line: subcommands and the options they share. Parsing only; `app` runs them.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

pub const EXIT_CODES: &str = "\
Exit codes:
  0  nothing failing (Gmail would accept)
  1  at least one failing finding (Gmail would refuse or cannot connect)
  2  could not run (bad arguments, unreadable input, DNS unusable)";

#[derive(Debug, Parser)]
#[command(
    name = "mxdoctor",
    version,
    about = "Finds what Gmail (and Yahoo, Microsoft, Apple) will object to in a mail server or domain, and says the exact fix.",
    after_help = EXIT_CODES
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start the built-in lab (scenario `seed`) and diagnose it: what Gmail's "Send mail as" says and why.
    #[command(after_help = EXIT_CODES)]
    Demo(DemoArgs),
    /// Simulate Gmail "Send mail as" against an SMTP server: would Gmail accept it, and if not, the fix.
    #[command(after_help = EXIT_CODES)]
    Sendas(SendasArgs),
    /// The IMAP or POP3 server as mail apps see it: greeting, TLS, the certificate for the name typed.
    #[command(after_help = EXIT_CODES)]
    Mailbox(MailboxArgs),
    /// The domain report: SPF, DKIM, DMARC, sending IPs (PTR, blocklists), submission server, and the sender checklist.
    #[command(after_help = EXIT_CODES)]
    Check(CheckArgs),
    /// Check a sending IP as Gmail does: reverse DNS (PTR) that resolves back, generic names, HELO, blocklists.
    #[command(after_help = EXIT_CODES)]
    Ip(IpArgs),
    /// The domain's SPF record: include tree with lookups counted, syntax, and the result for sending IPs.
    #[command(after_help = EXIT_CODES)]
    Spf(SpfArgs),
    /// Explain a bounce (DSN or free-form, Gmail's Send-mail-as notice, feedback report, auto-reply): who failed, why, the fix.
    #[command(after_help = EXIT_CODES)]
    Message(MessageArgs),
    /// Run a lab world (real DNS and mail servers on loopback) in the foreground.
    Lab(LabArgs),
    /// Serve the web page, the JSON API (/api/v1/), a test address to send mail to, and Prometheus metrics.
    Serve(ServeArgs),
    /// The domain report for every domain of a list (one a line): JSONL, CSV, a summary, history.
    #[command(after_help = EXIT_CODES)]
    Scan(ScanArgs),
    /// What changed for one domain across the scan runs kept in a store.
    History(HistoryArgs),
    /// What changed between two scan runs kept in a store.
    Diff(DiffArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(CompletionsArgs),
    /// Print the man page (roff), e.g. `mxdoctor manpage > mxdoctor.1`.
    Manpage,
}

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// The list: one domain a line, optionally `ips=IP,IP selectors=S,S submission=HOST[:PORT]`;
    /// `#` comments; - for standard input. With --merge: the JSONL files to merge.
    #[arg(required = true, num_args = 1..)]
    pub files: Vec<PathBuf>,
    /// Topics to check, comma-separated: mx, spf, dkim, dmarc, ptr, dnsbl, dbl, submission, tlsrpt,
    /// inbound (each MX on port 25), mta-sts; `dns` = those that need no connection; `all`
    /// (default). Left out: reported as not checked.
    #[arg(long, value_name = "LIST", default_value = "all", value_parser = mxdoctor_engine::topics::Topics::parse)]
    pub checks: mxdoctor_engine::topics::Topics,
    /// Domains checked at once.
    #[arg(long, default_value_t = 32, value_name = "N")]
    pub concurrency: usize,
    /// Scan only part K of N (K from 0): N machines or indexed-job pods split one list.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<String>,
    /// Skip the domains already in --out (after a crash or a kill).
    #[arg(long, requires = "out")]
    pub resume: bool,
    /// One report a line (the JSON of `check`); default: standard output.
    #[arg(long, value_name = "FILE.jsonl")]
    pub out: Option<PathBuf>,
    /// A row a domain: verdict, counts by severity, the state of each topic.
    #[arg(long, value_name = "FILE.csv")]
    pub csv: Option<PathBuf>,
    /// Keep the run in this SQLite store (for `history` and `diff`).
    #[arg(long, value_name = "FILE.sqlite")]
    pub store: Option<PathBuf>,
    /// The run's name in the store.
    #[arg(long, default_value = "scan")]
    pub label: String,
    /// Merge the JSONL outputs of shards (the files given) into --out, each domain once.
    #[arg(long, requires = "out")]
    pub merge: bool,
    /// Apply the bulk-sender rules to every domain.
    #[arg(long)]
    pub bulk: bool,
    /// Do not ask the DNS blocklists.
    #[arg(long)]
    pub no_dnsbl: bool,
    #[command(flatten)]
    pub common: Common,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// The domain.
    pub domain: String,
    /// The store the scans kept their runs in.
    #[arg(long, value_name = "FILE.sqlite")]
    pub store: PathBuf,
    #[command(flatten)]
    pub common: Common,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The earlier run's number (see `mxdoctor history` or the scan's summary).
    pub run_a: i64,
    /// The later run's number.
    pub run_b: i64,
    #[arg(long, value_name = "FILE.sqlite")]
    pub store: PathBuf,
    #[command(flatten)]
    pub common: Common,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address and port of the web page and API.
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR:PORT")]
    pub listen: String,
    /// Keep reports in this SQLite file (default: in memory, gone at exit).
    #[arg(long, value_name = "FILE.sqlite")]
    pub store: Option<PathBuf>,
    /// Language of the page when the browser asks for neither English nor Japanese.
    #[arg(long, value_enum, default_value_t = LangArg::En)]
    pub lang_default: LangArg,
    /// Days reports and test messages are kept.
    #[arg(long, default_value_t = 7, value_name = "DAYS")]
    pub retention: u32,
    /// Serve against a built-in lab world (real DNS and mail servers on loopback) instead of the Internet.
    #[arg(long, value_name = "NAME")]
    pub scenario: Option<String>,
    /// Also dial loopback, private, link-local and other non-public addresses (a lab, a page only you can reach).
    /// Without it every address actually dialled must be public.
    #[arg(long)]
    pub allow_private: bool,
    /// Checks one client address may start per minute.
    #[arg(long, default_value_t = 30, value_name = "N")]
    pub rate: u32,
    /// Checks running at once, all clients together.
    #[arg(long, default_value_t = 32, value_name = "N")]
    pub max_in_flight: usize,
    /// Seconds a check may run before it is stopped.
    #[arg(long, default_value_t = 120, value_name = "SECONDS")]
    pub check_timeout: u64,
    /// The test address: where its SMTP listener listens (a public deployment: port 25, with an MX record for --test-domain).
    #[arg(long, value_name = "ADDR:PORT", requires = "test_domain")]
    pub smtp_listen: Option<String>,
    /// The domain of the test addresses (t-<token>@DOMAIN).
    #[arg(long, value_name = "DOMAIN", requires = "smtp_listen")]
    pub test_domain: Option<String>,
    /// Certificate chain (PEM) for the test address's STARTTLS (default: self-signed for --test-domain).
    #[arg(long, value_name = "FILE", requires = "smtp_tls_key")]
    pub smtp_tls_cert: Option<PathBuf>,
    /// Private key (PEM) for --smtp-tls-cert.
    #[arg(long, value_name = "FILE", requires = "smtp_tls_cert")]
    pub smtp_tls_key: Option<PathBuf>,
    /// Largest test message accepted, in bytes.
    #[arg(long, default_value_t = 10 * 1024 * 1024, value_name = "BYTES")]
    pub smtp_max_size: usize,
    /// Minutes a test address stays live.
    #[arg(long, default_value_t = 60, value_name = "MINUTES")]
    pub token_minutes: u64,
    /// Honour XCLIENT on the test address (the lab's MTA uses it to play a world address). Never on a public listener.
    #[arg(long)]
    pub smtp_trust_xclient: bool,
    #[command(flatten)]
    pub common: Common,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LangArg {
    En,
    Ja,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SecurityArg {
    /// STARTTLS (Gmail's "TLS"; ports 587, 25)
    Starttls,
    /// Implicit TLS (Gmail's "SSL"; port 465)
    Ssl,
}

/// Options every diagnosing command shares.
#[derive(Debug, Clone, Args)]
pub struct Common {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text, global = true)]
    pub format: Format,
    /// Language of the explanations (default: from LC_ALL / LC_MESSAGES / LANG).
    #[arg(long, value_enum, global = true)]
    pub lang: Option<LangArg>,
    /// DNS server to ask, IP or IP:PORT; repeatable (default: the system's resolvers).
    #[arg(long = "resolver", value_name = "IP[:PORT]", global = true)]
    pub resolvers: Vec<String>,
    /// Seconds allowed for each network step (connect, each reply, the TLS handshake).
    #[arg(long, default_value_t = 10.0, value_name = "SECONDS", global = true)]
    pub timeout: f64,
    /// Seconds allowed for the whole run (one command; each domain of a scan). Past it the
    /// report says the run was cut off, and nothing is concluded.
    #[arg(long, default_value_t = 120.0, value_name = "SECONDS", global = true)]
    pub deadline: f64,
    /// Extra trust anchors (PEM), e.g. a lab or private CA. Gmail itself trusts only public CAs.
    #[arg(long, value_name = "FILE", global = true)]
    pub ca_file: Option<PathBuf>,
    /// Use a running lab (`mxdoctor lab`): its resolver, address map and CA, from its state file.
    /// Without a value, the default state file. Put it after the positional arguments
    /// (`mxdoctor spf example.com --lab`), or it would take the next word as the file.
    #[arg(long, value_name = "STATE_FILE", num_args = 0..=1, global = true)]
    #[allow(clippy::option_option)]
    pub lab: Option<Option<PathBuf>>,
    /// Lab mode by hand: WORLD_IP:PORT=127.0.0.1:PORT pairs, comma-separated. Only mapped addresses are dialled.
    #[arg(long, value_name = "PAIRS", global = true)]
    pub connect_map: Option<String>,
    /// Judge certificate dates at this instant (RFC 3339) instead of now.
    #[arg(long, value_name = "RFC3339", global = true)]
    pub now: Option<String>,
    /// Show the evidence of every check (SMTP transcript, DNS answers, certificates).
    #[arg(long, short, global = true)]
    pub verbose: bool,
    /// After the report, draw every DNS question and connection on a time axis (to stderr),
    /// with the critical path and the wall time against it.
    #[arg(long, global = true)]
    pub timeline: bool,
    /// Connections at once to one server address (real servers limit connections per client).
    #[arg(long, default_value_t = mxdoctor_net::gate::DEFAULT_PER_IP as u16, value_name = "N", global = true,
          value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub per_ip: u16,
    /// At most N DNS questions a second in all (default: unlimited).
    #[arg(long, value_name = "N", global = true, value_parser = clap::value_parser!(u32).range(1..))]
    pub dns_rate: Option<u32>,
    /// At most N questions a second to each built-in blocklist (default: unlimited).
    #[arg(long, value_name = "N", global = true, value_parser = clap::value_parser!(u32).range(1..))]
    pub dnsbl_rate: Option<u32>,
    /// At most N questions in all to each built-in blocklist; past it, listings are reported as
    /// not checked (free use of lists like Spamhaus is limited per day).
    #[arg(long, value_name = "N", global = true)]
    pub dnsbl_budget: Option<u64>,
    /// Connections at once to one /24 (IPv4) or /64 (IPv6).
    #[arg(long, default_value_t = mxdoctor_net::gate::DEFAULT_PER_NET as u16, value_name = "N", global = true,
          value_parser = clap::value_parser!(u16).range(1..=10000))]
    pub per_net: u16,
}

#[derive(Debug, Args)]
pub struct SendasArgs {
    /// The SMTP server name exactly as typed into Gmail.
    pub host: String,
    /// The port chosen in Gmail (587 and 25 use STARTTLS, 465 SSL).
    #[arg(long, short, default_value_t = 587)]
    pub port: u16,
    /// Override the security Gmail uses for the port.
    #[arg(long, value_enum)]
    pub security: Option<SecurityArg>,
    /// Also try to log in with this user name, as Gmail does.
    #[arg(long, requires = "password_env")]
    pub user: Option<String>,
    /// Name of the environment variable that holds the password (it is never printed or stored).
    #[arg(long, value_name = "VAR", requires = "user")]
    pub password_env: Option<String>,
    #[command(flatten)]
    pub common: Common,
}

#[derive(Debug, Args)]
pub struct MailboxArgs {
    /// The incoming mail server name exactly as typed into the mail app.
    pub host: String,
    /// 993 (IMAP, SSL/TLS), 995 (POP3, SSL/TLS), 143 (IMAP, STARTTLS) or 110 (POP3, STLS).
    #[arg(long, short, default_value_t = 993)]
    pub port: u16,
    #[command(flatten)]
    pub common: Common,
}

#[derive(Debug, Args)]
pub struct IpArgs {
    /// The sending IP address (IPv4 or IPv6).
    pub ip: String,
    /// The name the server announces in HELO/EHLO; checked to resolve to the IP.
    #[arg(long, value_name = "NAME")]
    pub helo: Option<String>,
    #[command(flatten)]
    pub lists: ListArgs,
    #[command(flatten)]
    pub common: Common,
}

/// Which DNS blocklists to ask.
#[derive(Debug, Clone, Args)]
pub struct ListArgs {
    /// Also query this DNS blocklist zone (repeatable).
    #[arg(long = "dnsbl", value_name = "ZONE")]
    pub dnsbl: Vec<String>,
    /// Do not query the default blocklists (only those given with --dnsbl).
    #[arg(long)]
    pub no_dnsbl: bool,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The mail domain (the part after @ in your address).
    pub domain: String,
    /// A sending IP address (repeatable); default: derived from SPF and MX, and labelled so.
    #[arg(long = "ip", value_name = "IP")]
    pub ips: Vec<String>,
    /// The HELO/EHLO name your server announces.
    #[arg(long, value_name = "NAME")]
    pub helo: Option<String>,
    /// DKIM selector to check (repeatable); default: try common selectors.
    #[arg(long = "selector", value_name = "S")]
    pub selectors: Vec<String>,
    /// Topics to check, comma-separated: mx, spf, dkim, dmarc, ptr, dnsbl, dbl, submission, tlsrpt,
    /// inbound (each MX on port 25), mta-sts; `dns` = those that need no connection; `all`
    /// (default). Left out: reported as not checked.
    #[arg(long, value_name = "LIST", default_value = "all", value_parser = mxdoctor_engine::topics::Topics::parse)]
    pub checks: mxdoctor_engine::topics::Topics,
    /// Apply the bulk-sender rules (5000 or more messages a day to Gmail).
    #[arg(long)]
    pub bulk: bool,
    /// Also ask each MX, without authenticating, whether it would relay to an outside address
    /// (MAIL FROM and RCPT TO, then RSET; never DATA). Accepted is a failure: an open relay.
    #[arg(long)]
    pub relay_test: bool,
    /// The submission server typed into Gmail's "Send mail as", HOST or HOST:PORT (587 STARTTLS,
    /// 465 SSL); default: guessed (mail., smtp., MX) on 587.
    #[arg(long, value_name = "HOST")]
    pub submission: Option<String>,
    #[command(flatten)]
    pub lists: ListArgs,
    #[command(flatten)]
    pub common: Common,
}

#[derive(Debug, Args)]
pub struct MessageArgs {
    /// The message file (.eml, as saved from the mail program), or - for standard input.
    pub file: std::path::PathBuf,
    /// A received message: the sending server's IP, if the Received fields do not show it.
    #[arg(long, value_name = "IP")]
    pub ip: Option<String>,
    /// A received message: the envelope sender (MAIL FROM), if there is no Return-Path.
    #[arg(long, value_name = "ADDR")]
    pub mail_from: Option<String>,
    /// A received message: the sending server's HELO name.
    #[arg(long, value_name = "NAME")]
    pub helo: Option<String>,
    /// Judge by the bulk-sender rules (5000 or more messages a day to Gmail): one-click unsubscribe required.
    #[arg(long)]
    pub bulk: bool,
    /// A bounce: also run the check it names (mxdoctor ip/check/sendas) and include its findings.
    #[arg(long)]
    pub online: bool,
    #[command(flatten)]
    pub common: Common,
}

#[derive(Debug, Args)]
pub struct SpfArgs {
    /// The domain (MAIL FROM domain) whose SPF record to check.
    pub domain: String,
    /// Evaluate check_host() for this sending IP (repeatable).
    #[arg(long = "ip", value_name = "IP")]
    pub ips: Vec<String>,
    /// MAIL FROM address for the evaluation (default postmaster@DOMAIN).
    #[arg(long, value_name = "ADDR")]
    pub sender: Option<String>,
    /// HELO name for the evaluation (%{h}).
    #[arg(long, value_name = "NAME")]
    pub helo: Option<String>,
    #[command(flatten)]
    pub common: Common,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Built-in scenario to run (see `mxdoctor lab --list`).
    #[arg(long, default_value = "seed")]
    pub scenario: String,
    #[command(flatten)]
    pub common: Common,
}

#[derive(Debug, Args)]
pub struct LabArgs {
    /// Built-in scenario.
    #[arg(long, conflicts_with = "world")]
    pub scenario: Option<String>,
    /// A world directory (world.toml + zones/).
    #[arg(long, value_name = "DIR")]
    pub world: Option<PathBuf>,
    /// Where to write the lab's state file (default: $XDG_RUNTIME_DIR/mxdoctor/lab.json).
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
    /// List the built-in scenarios and exit.
    #[arg(long)]
    pub list: bool,
    /// Stop after this many seconds (default: until Ctrl-C).
    #[arg(long, value_name = "SECONDS")]
    pub duration: Option<u64>,
    /// Hold every DNS answer and SMTP reply this long (e.g. 50ms, 0.2s): real round trips on
    /// loopback, for benchmarks.
    #[arg(long, value_name = "DURATION", value_parser = parse_latency)]
    pub latency: Option<std::time::Duration>,
    /// Serve the lab's DNS on this loopback address (UDP and TCP), e.g. 127.0.0.53:53 for a
    /// tool that asks port 53 only (default: 127.0.0.1, a free port).
    #[arg(long, value_name = "ADDR:PORT")]
    pub dns_listen: Option<std::net::SocketAddr>,
}

/// `50ms`, `0.2s`, `2s` or a bare number of milliseconds; at most 10 s.
pub fn parse_latency(s: &str) -> Result<std::time::Duration, String> {
    let t = s.trim();
    let (num, scale) = if let Some(ms) = t.strip_suffix("ms") {
        (ms, 0.001)
    } else if let Some(sec) = t.strip_suffix('s') {
        (sec, 1.0)
    } else {
        (t, 0.001)
    };
    let v: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("`{s}`: expected e.g. 50ms or 0.2s"))?;
    let secs = v * scale;
    if !(0.0..=10.0).contains(&secs) {
        return Err(format!("`{s}`: between 0 and 10 s"));
    }
    Ok(std::time::Duration::from_secs_f64(secs))
}
