from nf.liveness.restart_counter import FILE_NAME, MAX_VALUE, next_restart_counter


def test_first_start_is_zero_and_each_start_increments(tmp_path):
    assert next_restart_counter(tmp_path) == 0
    assert next_restart_counter(tmp_path) == 1
    assert next_restart_counter(tmp_path) == 2
    assert (tmp_path / FILE_NAME).read_text().strip() == "2"


def test_counter_wraps_at_32_bits(tmp_path):
    (tmp_path / FILE_NAME).write_text(f"{MAX_VALUE}\n")
    assert next_restart_counter(tmp_path) == 0


def test_corrupt_file_still_yields_a_new_value(tmp_path):
    (tmp_path / FILE_NAME).write_text("garbage")
    assert next_restart_counter(tmp_path) == 0
    assert next_restart_counter(tmp_path) == 1


def test_no_temporary_file_left_behind(tmp_path):
    next_restart_counter(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [FILE_NAME]
