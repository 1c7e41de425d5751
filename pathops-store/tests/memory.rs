//! The conformance suite against [`MemoryStore`].

use std::sync::Arc;

use pathops_store::MemoryStore;
use pathops_testkit::store_suite::{StoreFactory, StoreFixture};

struct Memory;

#[async_trait::async_trait]
impl StoreFactory for Memory {
    async fn open(&self) -> Option<StoreFixture> {
        Some(StoreFixture::new(Arc::new(MemoryStore::new())))
    }
}

pathops_testkit::store_conformance_suite!(Memory);
pathops_testkit::catalog_conformance_tests!(Memory);
pathops_testkit::provision_conformance_tests!(Memory);
pathops_testkit::monitor_conformance_tests!(Memory);
