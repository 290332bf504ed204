//! The client ROUTER (submit, status, drain) against an in-process controller and engine, the
//! way daemons are meant to be embedded: library functions that take their shutdown from outside.

use std::sync::Arc;
use std::time::Duration;

use hs_broker::{BindSet, ControllerBuilder, ControllerConfig, EngineInfo, ResultSink};
use hs_engine::engine::{EngineConfig, OutputConfig};
use hs_engine::executor::LineSink;
use hs_engine::protocol::{
    Body, DrainRequest, Drained, Incoming, PeerLink, Refused, Role, StatusReply, StatusRequest,
    Submit, Submitted,
};
use hs_engine::task::{Task, TaskResult};

#[derive(Default)]
struct Collect(Vec<(String, i32)>);

impl ResultSink for Collect {
    fn task_finished(&mut self, task: &Task, result: &TaskResult, _engine: &EngineInfo) {
        self.0.push((task.args.clone(), result.exit_status));
    }
}

struct Client {
    socket: zmq::Socket,
    link: PeerLink,
}

impl Client {
    fn request<Q: Body, A: Body>(&mut self, q: &Q) -> Result<A, String> {
        let frames = self.link.seal(q).unwrap();
        self.socket.send_multipart(frames, 0).unwrap();
        let frames = self.socket.recv_multipart(0).unwrap();
        let env = match self.link.receive(frames).map_err(|e| e.to_string())? {
            Incoming::Message(env) => env,
            _ => return Err("not a message of the session".into()),
        };
        if env.kind == Refused::KIND {
            return Err(env.parse::<Refused>().unwrap().reason);
        }
        env.parse::<A>().map_err(|e| e.to_string())
    }
}

#[test]
fn submit_status_and_drain_through_the_client_socket() {
    let key = hs_engine::protocol::generate_key();
    let clients = format!("inproc://api-{}-c", uuid::Uuid::new_v4());
    let mut cfg = ControllerConfig::new(
        key.clone(),
        BindSet {
            clients: vec![clients.clone()],
            ..BindSet::default()
        },
    );
    cfg.forever = true;
    let mut builder = ControllerBuilder::new(cfg);
    let output = OutputConfig {
        stdout: Arc::new(LineSink::from_writer(Box::new(std::io::sink()))),
        stderr: Arc::new(LineSink::from_writer(Box::new(std::io::sink()))),
        capture_dir: None,
    };
    let ecfg = EngineConfig::new(builder.local_endpoints(), key.clone(), 2, output);
    let mut controller = builder.bind().unwrap();
    controller.add_engine(ecfg, Duration::ZERO);
    let ctx = controller.context().clone();
    let running = controller.spawn(Collect::default()).unwrap();

    let socket = ctx.socket(zmq::DEALER).unwrap();
    socket.set_rcvtimeo(10_000).unwrap();
    socket.connect(&clients).unwrap();
    let link = crate::helpers::handshake(&socket, &key, Role::Client);
    let mut client = Client { socket, link };

    let args: Vec<String> = (0..10).map(|i| format!("exit {}", i % 2)).collect();
    let submitted: Submitted = client
        .request(&Submit {
            args,
            ..Submit::default()
        })
        .unwrap();
    assert_eq!(submitted.ids.len(), 10);

    let mut status = StatusReply::default();
    for _ in 0..250 {
        status = client.request(&StatusRequest {}).unwrap();
        if status.succeeded + status.failed == 10 {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        (status.succeeded, status.failed, status.queued),
        (5, 5, 0),
        "{status:?}"
    );
    assert_eq!(status.engines.len(), 1);
    assert_eq!(status.engines[0].slots, 2);

    // A replayed request, and one from a connection without a session, get no answer at all,
    // and the broker carries on.
    let request = client.link.seal(&StatusRequest {}).unwrap();
    client.socket.send_multipart(&request, 0).unwrap();
    let _ = client.socket.recv_multipart(0).unwrap();
    client.socket.send_multipart(&request, 0).unwrap();
    let outsider = ctx.socket(zmq::DEALER).unwrap();
    outsider.connect(&clients).unwrap();
    outsider.send_multipart(&request, 0).unwrap();

    // Keep a task running so the broker is still there to refuse new work after the drain.
    let _: Submitted = client
        .request(&Submit {
            args: vec!["sleep 1".into()],
            ..Submit::default()
        })
        .unwrap();
    let _: Drained = client.request(&DrainRequest {}).unwrap();
    let refused = client.request::<Submit, Submitted>(&Submit {
        args: vec!["true".into()],
        ..Submit::default()
    });
    assert!(refused.unwrap_err().contains("draining"));

    let (ended, results) = running.wait();
    let ended = ended.unwrap();
    assert_eq!(ended.broker.submitted, 11);
    assert_eq!(results.0.len(), 11);
    assert_eq!(results.0.iter().filter(|(_, code)| *code == 1).count(), 5);
    assert_eq!(ended.engines.len(), 1);
    assert_eq!(ended.engines[0].done, 11);
}
