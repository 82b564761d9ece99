//! Any bytes a client may send: framing, then the request decoder and
//! dispatch of a broker with no controller behind it. Nothing may panic;
//! a frame is answered, ignored (acks=0) or closes the connection.
#![no_main]

use insync::server::api::handle;
use insync::server::shared::Shared;
use insync::wire::frame::Frames;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Paused time: a Fetch asking to wait a day returns at once.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    let shared = Shared::detached();
    let mut frames = Frames::new(1 << 20);
    frames.push(data);
    rt.block_on(async {
        while let Ok(Some(body)) = frames.next_frame() {
            let _ = handle(body, &shared).await;
        }
    });
});
