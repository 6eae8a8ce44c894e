//! `GET /whep/ice-servers`: TURN credentials only for a valid link token, minted with the
//! server's secret, expiring after the configured TTL; also as WHEP `Link` headers.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::{fixture, oneshot, state_with_clock, TestResult, T0};
use deskbeam_proto::ice::IceServerList;
use deskbeam_server::turn::{IceIssuer, TurnSecret};

fn issuer() -> IceIssuer {
    let urls = vec!["turn:relay.test:3478?transport=udp".to_string(), "turn:relay.test:3478?transport=tcp".to_string()];
    IceIssuer::new(TurnSecret::new(b"shared".to_vec()), urls, 600)
}

fn get(token: Option<&str>) -> TestResult<Request<Body>> {
    let mut builder = Request::get("/whep/ice-servers");
    if let Some(token) = token {
        builder = builder.header("authorization", format!("Bearer {token}"));
    }
    Ok(builder.body(Body::empty())?)
}

#[tokio::test]
async fn a_link_holder_gets_fresh_turn_credentials() -> TestResult {
    let (state, _clock) = state_with_clock()?;
    let state = state.with_ice(issuer());
    let f = fixture(&state, 3600, 1)?;
    let reply = oneshot(&state, get(Some(&f.link.token))?).await?;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    let list: IceServerList = serde_json::from_slice(&reply.body)?;
    assert_eq!(list.expires_at, T0 + 600);
    let [turn] = list.ice_servers.as_slice() else { panic!("one TURN entry: {list:?}") };
    assert_eq!(turn.urls.len(), 2);
    let user = turn.username.clone().unwrap_or_default();
    assert!(user.starts_with(&format!("{}:v-", T0 + 600)), "{user}");
    assert_eq!(turn.credential, Some(TurnSecret::new(b"shared".to_vec()).password(&user)));
    let links: Vec<&str> = reply.headers.get_all("link").iter().filter_map(|v| v.to_str().ok()).collect();
    assert_eq!(links.len(), 2);
    assert!(links[0].starts_with("<turn:relay.test:3478?transport=udp>; rel=\"ice-server\"; username=\""), "{links:?}");
    // Each request mints its own id.
    let again: IceServerList = serde_json::from_slice(&oneshot(&state, get(Some(&f.link.token))?).await?.body)?;
    assert_ne!(again.ice_servers[0].username, turn.username);
    Ok(())
}

#[tokio::test]
async fn no_valid_link_token_no_credentials() -> TestResult {
    let (state, clock) = state_with_clock()?;
    let state = state.with_ice(issuer());
    let f = fixture(&state, 60, 1)?;
    let reply = oneshot(&state, get(None)?).await?;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.code()?, "missing_token");
    let reply = oneshot(&state, get(Some(&f.host_token))?).await?;
    assert_eq!(reply.code()?, "invalid_token");
    assert!(reply.headers.get("link").is_none());
    clock.advance(61);
    let reply = oneshot(&state, get(Some(&f.link.token))?).await?;
    assert_eq!(reply.code()?, "token_expired");
    Ok(())
}

#[tokio::test]
async fn without_ice_settings_the_list_is_empty() -> TestResult {
    let (state, _clock) = state_with_clock()?;
    let f = fixture(&state, 3600, 1)?;
    let reply = oneshot(&state, get(Some(&f.link.token))?).await?;
    assert_eq!(reply.status, StatusCode::OK);
    let list: IceServerList = serde_json::from_slice(&reply.body)?;
    assert!(list.ice_servers.is_empty());
    Ok(())
}
