//! The layers of a resident function's memory (RainbowCake, Yu et al., ASPLOS 2024, applied to
//! Wasm in round2-design §1.3 item 5): what each holds and what restoring it costs.

use std::time::Duration;

/// A layer of a resident function's memory, from the bottom: each needs the ones below it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Layer {
    /// The loaded component (deserialized, mmapped artifact).
    Code,
    /// The component linked once (`InstancePre`).
    Linked,
    /// Pre-instantiated idle instances.
    Instances,
}

impl Layer {
    /// Every layer, bottom first.
    pub const ALL: [Layer; 3] = [Layer::Code, Layer::Linked, Layer::Instances];

    /// How many layers lie below this one and this one (Code 1, Linked 2, Instances 3).
    pub(super) fn depth(self) -> u8 {
        self as u8 + 1
    }
}

/// What one layer holds and what bringing it back costs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LayerCost {
    /// Bytes it holds while resident.
    pub bytes: u64,
    /// Time to restore it when the layers below it are resident (load, link or instantiate).
    pub restore: Duration,
}

/// A function's layers when fully resident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Footprint {
    /// The loaded component.
    pub code: LayerCost,
    /// The linked `InstancePre`.
    pub linked: LayerCost,
    /// Idle pre-instantiated instances.
    pub instances: LayerCost,
}

impl Footprint {
    /// The cost of `layer`.
    pub fn layer(&self, layer: Layer) -> LayerCost {
        match layer {
            Layer::Code => self.code,
            Layer::Linked => self.linked,
            Layer::Instances => self.instances,
        }
    }

    /// Bytes of the lowest `depth` layers.
    pub(super) fn bytes_below(&self, depth: u8) -> u64 {
        Layer::ALL[..usize::from(depth)]
            .iter()
            .map(|&l| self.layer(l).bytes)
            .sum()
    }

    /// Bytes of all three layers.
    pub fn bytes(&self) -> u64 {
        self.bytes_below(3)
    }

    /// Time to restore all three layers: the cold-start cost FaaSCache weighs (cold − warm).
    pub fn cold_cost(&self) -> Duration {
        self.code.restore + self.linked.restore + self.instances.restore
    }
}
