"""The payment complement step reads the portal's link to a payment only where Focaltec's spec puts it."""
from sync.steps.payment_complement import _hint


def test_it_reads_the_one_erp_payment_id_of_payment_info_payments_response():
    assert _hint({"payment_info": {"payments_response": [{"external_id": " PY0000007 ",
                                                          "id": "a" * 24}]}}) == "PY0000007"


def test_it_reads_no_field_the_spec_does_not_have_nor_guesses_between_two():
    assert _hint({"payment_info": {"external_id": "PY1", "erp_id": "PY2"}}) == ""
    assert _hint({"payment_info": [{"external_id": "PY1"}]}) == ""
    assert _hint({"payment_info": {"payments_response": [{"external_id": "PY1"}, {"external_id": "PY2"}]}}) == ""
    assert _hint({}) == ""
