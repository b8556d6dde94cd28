//! A webhook receiver for the benches: `POST /hook` served by `handler` on an ephemeral port of
//! 127.0.0.1 (one worker, on the bench's runtime).

use actix_web::{web, App, FromRequest, Handler, HttpServer, Responder};

/// Serves `handler` at `POST /hook`; the URL to subscribe.
pub fn serve<F, Args>(handler: F) -> String
where
    F: Handler<Args> + Clone + Send + 'static,
    Args: FromRequest + 'static,
    F::Output: Responder + 'static,
{
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a local port");
    let url = format!(
        "http://{}/hook",
        listener.local_addr().expect("local address")
    );
    let server =
        HttpServer::new(move || App::new().route("/hook", web::post().to(handler.clone())))
            .workers(1)
            .disable_signals()
            .listen(listener)
            .expect("listen")
            .run();
    tokio::spawn(server);
    url
}

/// A receiver that counts deliveries in `count` and answers 200. It reads each body, as a
/// receiver checking the signature does: actix-web closes a connection whose request body was
/// left unread (seen with strace: one `connect` per delivery), which made the benches pay a
/// new connection per webhook that no real receiver costs.
#[allow(dead_code)] // not every bench counts
pub fn counting(count: std::sync::Arc<std::sync::atomic::AtomicUsize>) -> String {
    serve(move |_body: web::Bytes| {
        count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        async { actix_web::HttpResponse::Ok().finish() }
    })
}
