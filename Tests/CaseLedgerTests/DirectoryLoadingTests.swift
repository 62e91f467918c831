import CaseLedger
import CaseLedgerWorkflow
import Testing

@Suite struct DirectoryLoadingTests {
    @Test func aDirectoryLoadsFromYAMLAndIsChecked() throws {
        let yaml = """
            units:
              - {id: v1, name: 石板村人民调解委员会, kind: mediationCommittee, division: "511124101001"}
              - {id: t1, name: 石板镇人民调解委员会, kind: mediationCommittee, division: "511124101000"}
              - {id: bureau, name: 井研县司法局, kind: justiceBureau, division: "511124000000"}
            persons:
              - {id: m-0042, name: 王调解, roles: [mediator, staff], units: [v1]}
              - {id: head-1, name: 李局长, roles: [head, staff], units: [bureau]}
            """
        let directory = try Directory(yaml: yaml)
        #expect(directory.unit("v1")?.level == .village)
        #expect(directory.unit("t1")?.level == .township)
        #expect(directory.mayAct("m-0042", for: "v1"))
        #expect(!directory.mayAct("m-0042", for: "t1"))
        #expect(directory.mayAct("head-1", for: "t1"))  // the county bureau's head runs the county's units
        #expect(throws: DirectoryError.self) {
            try Directory(yaml: yaml + "\n  - {id: x, name: x, roles: [staff], units: [nowhere]}\n")
        }
        #expect(throws: DirectoryError.self) {
            try Directory(
                yaml: "units:\n  - {id: v1, name: a, kind: mediationCommittee, division: \"12\"}\npersons: []\n")
        }
    }
}
