//! The HTTP server settings every devnet listener shares (service nodes, seed, file server,
//! control API), so they cannot drift apart.

use std::net::TcpListener;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::{web, App, HttpServer};

/// Longer than any client's pool idle time, so a reused connection is never closed under a
/// request (reqwest pools idle connections for 30 s in the devnet).
const KEEP_ALIVE: Duration = Duration::from_secs(75);

/// Serves the app `routes` configures on `listener`: over TLS when `tls` is given, plain HTTP
/// otherwise. One worker (a devnet holds many listeners), no signal handling (the owner stops
/// it), and a one-second shutdown.
pub fn serve(
    listener: TcpListener,
    tls: Option<rustls::ServerConfig>,
    routes: impl Fn(&mut web::ServiceConfig) + Clone + Send + 'static,
) -> std::io::Result<Server> {
    let server = HttpServer::new(move || App::new().configure(routes.clone()))
        .workers(1)
        .keep_alive(KEEP_ALIVE)
        .disable_signals()
        .shutdown_timeout(1);
    let server = match tls {
        Some(tls) => server.listen_rustls_0_23(listener, tls)?,
        None => server.listen(listener)?,
    };
    Ok(server.run())
}
