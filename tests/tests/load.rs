//! Server load, bounded: 200 fake agents on the real signaling WebSocket and 200 WHEP
//! negotiations against the real server binary. Every agent must connect and stay connected,
//! every negotiation and every DELETE must succeed, and the server must still answer. No timing
//! assertions (the figures are printed; `make bench` runs 1000/1000).

use deskbeam_tests::load::{self, LoadConfig, LoadServer};
use deskbeam_tests::procstat::raise_open_file_limit;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_agents_and_two_hundred_negotiations() {
    deskbeam_tests::init_tracing();
    raise_open_file_limit();
    let server = LoadServer::start().expect("server");
    let config = LoadConfig { agents: 200, negotiations: 200, concurrency: 32 };
    let report = load::run(server.addr, server.data_dir.path(), server.proc.pid(), config).await.expect("load run");
    report.print(&config);
    assert!(report.errors.is_empty(), "errors: {:?}", report.errors);
    assert_eq!(report.agents_connected, 200);
    assert_eq!(report.agents_still_connected, 200, "agents dropped during the run");
    assert_eq!(report.negotiations_ok, 200);
    assert_eq!(report.offers_answered, 200, "every offer reached an agent exactly once");
    assert_eq!(report.deletes_ok, 200);
    assert!(report.healthy_after, "the server stopped answering /healthz");
}
