//! Commands beyond the first steps of the how-to, and the options and results of every
//! command.
//!
//! The data-node lifecycle: [`AttachDataNode`], [`DetachDataNode`], [`DeleteDataNode`],
//! [`AlterDataNode`], [`BlockNewChunks`] and [`AllowNewChunks`], with the cluster-wide calls
//! that go with them: [`SetChunkInterval`], [`SetReplicationFactor`],
//! [`CreateRestorePoint`], and [`UpdateExtension`] (also at the crate root, as the how-to's
//! first step). Each is a builder that ends in `.run(on)`, like the commands at the crate
//! root.
//!
//! What the commands take and give back: [`Bootstrap`] (how [`DataNode`](crate::DataNode)
//! sets up a data node's database; also at the crate root), [`ChunkInterval`],
//! [`Repartition`]; [`AddedDataNode`], [`CreatedHypertable`], [`MappingChange`],
//! [`AttachedDataNode`], [`DeletedDataNode`], [`AlteredDataNode`], [`RestorePoint`],
//! [`ExtensionUpdate`] and its [`ExtensionChange`].

pub use crate::node::{
    AddedDataNode, AllowNewChunks, AlterDataNode, AlteredDataNode, AttachDataNode,
    AttachedDataNode, BlockNewChunks, Bootstrap, ChunkInterval, CreateRestorePoint,
    CreatedHypertable, DeleteDataNode, DeletedDataNode, DetachDataNode, ExtensionChange,
    ExtensionUpdate, MappingChange, Repartition, RestorePoint, SetChunkInterval,
    SetReplicationFactor, UpdateExtension,
};
