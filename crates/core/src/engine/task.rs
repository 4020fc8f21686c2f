//! One aggregation task: its configuration and its state for the open window.

use crate::key::KeyFields;
use crate::sketch::countmin::{CountMin, CountMinConfig};
use crate::sketch::superspread::{SuperSpread, SuperSpreadConfig};
use crate::table::ExactTable;

#[derive(Clone, Debug, PartialEq)]
pub enum TaskKind {
    /// Exact packets and bytes per key; with `distinct` non-empty, also the exact number of
    /// distinct values of those fields per key.
    Exact {
        distinct: KeyFields,
    },
    CountMin(CountMinConfig),
    /// Spread of `element` values per key.
    SuperSpread {
        element: KeyFields,
        config: SuperSpreadConfig,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub struct TaskSpec {
    pub name: String,
    pub key: KeyFields,
    pub kind: TaskKind,
}

impl TaskSpec {
    /// The fields besides the key: distinct (exact) or element (SuperSpread).
    pub fn second_fields(&self) -> KeyFields {
        match self.kind {
            TaskKind::Exact { distinct } => distinct,
            TaskKind::CountMin(_) => KeyFields::NONE,
            TaskKind::SuperSpread { element, .. } => element,
        }
    }

    /// Whether the task keys on what flows' payloads told (App, ServerName).
    pub fn named(&self) -> bool {
        self.key.named() || self.second_fields().named()
    }

    /// Whether a field of the task may change within a flow: it counts every packet by itself.
    pub fn per_packet(&self) -> bool {
        self.key.per_packet() || self.second_fields().per_packet()
    }

    pub fn type_name(&self) -> &'static str {
        match self.kind {
            TaskKind::Exact { .. } => "exact",
            TaskKind::CountMin(_) => "countmin",
            TaskKind::SuperSpread { .. } => "superspread",
        }
    }
}

#[derive(Clone)]
pub(super) enum TaskState {
    Exact(ExactTable),
    CountMin(CountMin),
    SuperSpread(SuperSpread),
}

impl TaskState {
    /// An empty state; fails when the task's configuration is invalid (the message names it).
    pub(super) fn new(spec: &TaskSpec, seed: u64) -> Result<TaskState, String> {
        let named = |e: String| format!("task \"{}\": {e}", spec.name);
        if spec.key.is_empty() {
            return Err(named("the key needs at least one field".into()));
        }
        if spec.named() && spec.per_packet() {
            return Err(named(
                "a flow's names (App, ServerName) and a packet's fields (TCPFlags, DSCP, VLAN, Interface) cannot be counted together: choose one kind".into(),
            ));
        }
        Ok(match &spec.kind {
            TaskKind::Exact { distinct } => TaskState::Exact(ExactTable::new(spec.key, *distinct, seed)),
            TaskKind::CountMin(cfg) => TaskState::CountMin(CountMin::new(cfg.clone()).map_err(named)?),
            TaskKind::SuperSpread { element, config } => {
                if element.is_empty() {
                    return Err(named("the element needs at least one field".into()));
                }
                TaskState::SuperSpread(SuperSpread::new(config.clone()).map_err(named)?)
            }
        })
    }

    /// Hands over the window's state and starts an empty one.
    pub(super) fn take(&mut self, seed: u64) -> TaskState {
        let fresh = match &*self {
            TaskState::Exact(t) => TaskState::Exact(ExactTable::new(t.fields(), t.distinct_fields(), seed)),
            TaskState::CountMin(cm) => {
                let mut next = cm.clone();
                next.reset();
                TaskState::CountMin(next)
            }
            TaskState::SuperSpread(ss) => {
                let mut next = ss.clone();
                next.reset();
                TaskState::SuperSpread(next)
            }
        };
        std::mem::replace(self, fresh)
    }
}
