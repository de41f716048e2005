from pulumi_mocks import deploy

def test_smoke():
    d = deploy(secrets={"serverPassword": "pw"})
    for r in d.resources:
        print(r.typ, r.name, r.provider, r.inputs)
    print(d.outputs)
