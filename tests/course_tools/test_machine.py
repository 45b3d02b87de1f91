"""What machine a measurement ran on."""

from course_tools import machine


def test_cpu_model_names_the_processor_as_proc_cpuinfo_does(tmp_path, monkeypatch):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13\n")
    assert machine.cpu_model(str(cpuinfo)) == "AMD EPYC 7B13"
    cpuinfo.write_text("processor\t: 0\n")  # some ARM kernels name no model
    monkeypatch.setattr(machine.platform, "processor", lambda: "")
    assert machine.cpu_model(str(cpuinfo)) == "unknown CPU"
    assert machine.cpu_model(str(tmp_path / "missing")) == "unknown CPU"
