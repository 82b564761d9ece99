//! `ModelConfig::into_model`: the actors, network, properties and bounds.

use super::actor::{CONSUMER, KafkaActor, Layout, PRODUCER, Settings};
use super::config::{ModelConfig, NetworkKind};
use super::history::History;
use super::properties::{ACTOR_CONDITIONS, properties};
use super::state::{KafkaModel, KafkaState, within_bounds};
use crate::core::messages::Node;
use stateright::actor::{ActorModel, Network};
use std::sync::Arc;

impl ModelConfig {
    pub fn layout(&self) -> Layout {
        Layout {
            rf: self.kafka.replication_factor,
        }
    }

    pub fn into_model(self) -> KafkaModel {
        let layout = self.layout();
        let settings = Arc::new(Settings {
            protocol: self.protocol(),
            producer: self.producer(),
            layout,
            cfg: self.clone(),
        });
        let actor = |node| KafkaActor {
            node,
            settings: settings.clone(),
        };
        let mut nodes: Vec<Node> = layout.brokers().map(Node::Broker).collect();
        nodes.push(Node::Controller);
        nodes.push(Node::Client(PRODUCER));
        if self.consumer {
            nodes.push(Node::Client(CONSUMER));
        }
        let network = match self.network {
            NetworkKind::Ordered => Network::new_ordered([]),
            NetworkKind::UnorderedNonduplicating => Network::new_unordered_nonduplicating([]),
            NetworkKind::UnorderedDuplicating => Network::new_unordered_duplicating([]),
        };
        let props = properties::<KafkaState>(&self);
        let mut model = ActorModel::new(self, History::default())
            .actors(nodes.into_iter().map(actor))
            .init_network(network)
            .record_msg_out(History::record_out)
            .record_msg_in(History::record_in)
            .within_boundary(within_bounds);
        assert!(
            props.len() <= ACTOR_CONDITIONS.len(),
            "a condition per property"
        );
        for ((name, expectation, _), condition) in props.into_iter().zip(ACTOR_CONDITIONS) {
            model = model.property(expectation, name, condition);
        }
        model
    }
}
