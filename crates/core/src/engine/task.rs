//! One aggregation task: its configuration and its state for the open window.

use super::snapshot::TaskSnapshot;
use crate::record::PacketRecord;
use crate::sketch::countmin::{CountMin, CountMinConfig};
use crate::sketch::superspread::{SuperSpread, SuperSpreadConfig};
use crate::sketch::PackedKey;
use crate::table::{ExactTable, KeyFields};

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
    pub fn type_name(&self) -> &'static str {
        match self.kind {
            TaskKind::Exact { .. } => "exact",
            TaskKind::CountMin(_) => "countmin",
            TaskKind::SuperSpread { .. } => "superspread",
        }
    }
}

/// Packets the engine hands to its tasks at a time.
pub const BATCH: usize = 64;

#[derive(Clone)]
pub(super) enum TaskState {
    Exact(ExactTable),
    CountMin(CountMin),
    SuperSpread(SuperSpread),
}

pub struct Task {
    spec: TaskSpec,
    seed: u64,
    pub(super) state: TaskState,
}

impl Task {
    pub fn new(spec: &TaskSpec, seed: u64) -> Result<Task, String> {
        if spec.key.is_empty() {
            return Err(format!("task \"{}\": the key needs at least one field", spec.name));
        }
        let state = Task::fresh(spec, seed).map_err(|e| format!("task \"{}\": {e}", spec.name))?;
        Ok(Task { spec: spec.clone(), seed, state })
    }

    fn fresh(spec: &TaskSpec, seed: u64) -> Result<TaskState, String> {
        Ok(match &spec.kind {
            TaskKind::Exact { distinct } => TaskState::Exact(ExactTable::new(spec.key, *distinct, seed)),
            TaskKind::CountMin(cfg) => TaskState::CountMin(CountMin::new(cfg.clone())?),
            TaskKind::SuperSpread { element, config } => {
                if element.is_empty() {
                    return Err("the element needs at least one field".into());
                }
                TaskState::SuperSpread(SuperSpread::new(config.clone())?)
            }
        })
    }

    pub fn spec(&self) -> &TaskSpec {
        &self.spec
    }

    /// The fields of the second key a task packs per packet: a sketch's element, or none.
    pub fn element_fields(&self) -> Option<KeyFields> {
        match self.spec.kind {
            TaskKind::SuperSpread { element, .. } => Some(element),
            _ => None,
        }
    }

    /// Counts packets in order, with their keys (and elements, for SuperSpread) packed by the
    /// engine: tasks that share fields share the packing.
    pub fn add_batch(&mut self, records: &[PacketRecord], keys: &[PackedKey], elements: &[PackedKey]) {
        match &mut self.state {
            TaskState::Exact(t) => records.iter().zip(keys).for_each(|(r, k)| t.add_key(*k, r)),
            TaskState::CountMin(cm) => records.iter().zip(keys).for_each(|(r, k)| cm.add(k, r.wire_len as u64)),
            TaskState::SuperSpread(ss) => ss.add_batch(keys, elements),
        }
    }

    /// Hands over the window's state and starts an empty one.
    /// A copy of the task's state; the task keeps counting.
    pub(super) fn snapshot(&self) -> TaskSnapshot {
        TaskSnapshot { spec: self.spec.clone(), state: self.state.clone() }
    }

    pub(super) fn snapshot_and_reset(&mut self) -> TaskSnapshot {
        let fresh = match &self.state {
            TaskState::Exact(t) => TaskState::Exact(ExactTable::new(t.fields(), t.distinct_fields(), self.seed)),
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
        TaskSnapshot { spec: self.spec.clone(), state: std::mem::replace(&mut self.state, fresh) }
    }
}
