//! The knowledge-graph loader on the real ConvE archives (`$GNN_DATA_DIR/kg/`): triple,
//! entity and relation counts equal `shared/data/MANIFEST.md` §4c (counted there with other
//! tools), FB15k-237's CRLF line ends included.

use gnn_datasets::kg;
use gnn_tests::data_root;

#[test]
fn every_archive_matches_the_measured_counts() {
    // (name, train, valid, test, entities, relations, test triples with an entity unseen in train)
    let expected = [
        ("fb15k-237", 272_115, 17_535, 20_466, 14_541, 237, 28),
        ("kinship", 8_544, 1_068, 1_074, 104, 25, 0),
        ("nations", 1_592, 199, 201, 14, 55, 0),
        ("umls", 5_216, 652, 661, 135, 46, 0),
    ];
    for (name, train, valid, test, entities, relations, unseen) in expected {
        let g = kg::load(name, &data_root()).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            (g.train.len(), g.valid.len(), g.test.len()),
            (train, valid, test),
            "{name} triples"
        );
        assert_eq!(
            (g.num_entities(), g.num_relations()),
            (entities, relations),
            "{name} vocabulary"
        );
        assert_eq!(g.unseen(&g.test), unseen, "{name} unseen test triples");
        // No name keeps a CR from FB15k-237's line ends.
        assert!(
            g.entities
                .iter()
                .chain(&g.relations)
                .all(|s| !s.contains('\r'))
        );
        let (src, _, kind) = g.message_edges();
        assert_eq!(src.len(), 2 * train);
        assert_eq!(kind.iter().max(), Some(&(2 * relations - 1)));
    }
}
