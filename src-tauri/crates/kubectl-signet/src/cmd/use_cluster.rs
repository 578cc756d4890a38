//! `use`: make a cluster's context current, optionally with a namespace.

use signet_core::usecase::switch;

use super::engine;
use crate::output::Failure;

pub fn run(cluster: &str, namespace: Option<&str>) -> Result<(), Failure> {
    let switched = switch::use_cluster(&engine()?, cluster, namespace)?;
    match &switched.namespace {
        Some(ns) => println!("Switched to context {} (namespace {ns}).", switched.context),
        None => println!("Switched to context {}.", switched.context),
    }
    Ok(())
}
