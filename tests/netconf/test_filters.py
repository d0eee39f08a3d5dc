"""Subtree and XPath filters (RFC 6241 §6.4 examples, §8.9) and request plans."""
import libyang
import pytest
from lxml import etree

from mgmt.netconf.filters import Filter, FilterPlan, RequestError
from tests.netconf.yang.testctx import make_context

T = "http://example.com/schema/1.2/config"

DATA = f"""
<top xmlns="{T}">
  <users>
    <user><name>root</name><type>superuser</type><full-name>Charlie Root</full-name>
      <company-info><dept>1</dept><id>1</id></company-info></user>
    <user><name>fred</name><type>admin</type><full-name>Fred Flintstone</full-name>
      <company-info><dept>2</dept><id>2</id></company-info></user>
    <user><name>barney</name><type>admin</type><full-name>Barney Rubble</full-name>
      <company-info><dept>2</dept><id>3</id></company-info></user>
  </users>
  <interfaces>
    <interface><ifName>eth0</ifName><ifInOctets>45621</ifInOctets><ifInErrors>4</ifInErrors>
      <tag>up</tag><tag>core</tag></interface>
    <interface><ifName>eth1</ifName><ifInOctets>10</ifInOctets><ifInErrors>0</ifInErrors></interface>
  </interfaces>
</top>
<bindings xmlns="{T}">
  <binding><mn-identifier>mn1@example.net</mn-identifier><lifetime>3600</lifetime></binding>
  <binding><mn-identifier>mn2@example.net</mn-identifier><lifetime>60</lifetime></binding>
</bindings>
"""


@pytest.fixture(scope="module")
def ctx():
    return make_context()


def tree(ctx):
    return ctx.parse_data_mem(DATA, "xml", parse_only=True, strict=True)


def leaves(forest):
    """Every leaf of a forest as 'path=value' (an order-free view of the result)."""
    out = set()
    if forest is None:
        return out
    for top in forest.first_sibling().siblings():
        for node in top.iter_tree():
            if isinstance(node, libyang.DLeaf):
                out.add(f"{node.path()}={node.value()}")
    return out


def subtree(ctx, body):
    elem = etree.fromstring(f'<filter type="subtree" xmlns="urn:ietf:params:xml:ns:netconf:base:1.0">{body}</filter>')
    return Filter.from_element(elem, ctx)


def run(ctx, flt):
    return leaves(flt.apply(tree(ctx)))


U = "/example-top:top/users/user"


def test_no_filter_selects_everything(ctx):  # RFC 6241 §6.4.1
    assert run(ctx, Filter.none()) == leaves(tree(ctx))


def test_empty_filter_selects_nothing(ctx):  # §6.4.2
    assert run(ctx, subtree(ctx, "")) == set()


def test_select_entire_users_subtree(ctx):  # §6.4.3
    got = run(ctx, subtree(ctx, f'<top xmlns="{T}"><users/></top>'))
    assert f"{U}[name='fred']/full-name=Fred Flintstone" in got
    assert not any("interfaces" in g or "bindings" in g for g in got)
    assert len(got) == 15


def test_select_all_name_elements(ctx):  # §6.4.4
    got = run(ctx, subtree(ctx, f'<top xmlns="{T}"><users><user><name/></user></users></top>'))
    assert got == {f"{U}[name='{n}']/name={n}" for n in ("root", "fred", "barney")}


def test_one_specific_user_entry(ctx):  # §6.4.5
    got = run(ctx, subtree(ctx, f'<top xmlns="{T}"><users><user><name>fred</name></user></users></top>'))
    assert got == {
        f"{U}[name='fred']/name=fred", f"{U}[name='fred']/type=admin",
        f"{U}[name='fred']/full-name=Fred Flintstone",
        f"{U}[name='fred']/company-info/dept=2", f"{U}[name='fred']/company-info/id=2",
    }


def test_specific_elements_from_specific_entry(ctx):  # §6.4.6
    got = run(ctx, subtree(ctx, f'<top xmlns="{T}"><users><user><name>fred</name><type/><full-name/></user></users></top>'))
    assert got == {f"{U}[name='fred']/name=fred", f"{U}[name='fred']/type=admin",
                   f"{U}[name='fred']/full-name=Fred Flintstone"}


def test_multiple_subtrees(ctx):  # §6.4.7
    got = run(ctx, subtree(ctx, f"""<top xmlns="{T}"><users>
        <user><name>root</name><company-info/></user>
        <user><name>fred</name><company-info><id/></company-info></user>
        <user><name>barney</name><type>superuser</type><company-info/></user>
        </users></top>"""))
    assert got == {
        f"{U}[name='root']/name=root", f"{U}[name='root']/company-info/dept=1",
        f"{U}[name='root']/company-info/id=1",
        f"{U}[name='fred']/name=fred", f"{U}[name='fred']/company-info/id=2",
    }  # barney is not a superuser: a false content match drops the whole entry


def test_attribute_match_on_metadata(ctx):  # §6.4.8 with a YANG annotation
    data = tree(ctx)
    data.find_path(f"{U}[name='fred']/type").new_meta("ietf-netconf-with-defaults:default", "true")
    wd = "urn:ietf:params:xml:ns:netconf:default:1.0"
    flt = subtree(ctx, f'<top xmlns="{T}"><users><user><type xmlns:wd="{wd}" wd:default="true"/></user></users></top>')
    assert leaves(flt.apply(data)) == {f"{U}[name='fred']/name=fred", f"{U}[name='fred']/type=admin"}


def test_leaf_list_content_match(ctx):
    got = run(ctx, subtree(ctx, f'<top xmlns="{T}"><interfaces><interface><tag>core</tag><ifInErrors/></interface></interfaces></top>'))
    assert got == {"/example-top:top/interfaces/interface[ifName='eth0']/ifName=eth0",
                   "/example-top:top/interfaces/interface[ifName='eth0']/tag[.='core']=core",
                   "/example-top:top/interfaces/interface[ifName='eth0']/ifInErrors=4"}


def test_element_without_namespace_matches_any_module(ctx):
    got = run(ctx, subtree(ctx, '<bindings xmlns=""><binding><mn-identifier>mn2@example.net</mn-identifier><lifetime/></binding></bindings>'))
    assert got == {"/example-top:bindings/binding[mn-identifier='mn2@example.net']/mn-identifier=mn2@example.net",
                   "/example-top:bindings/binding[mn-identifier='mn2@example.net']/lifetime=60"}


def test_wrong_namespace_selects_nothing(ctx):
    assert run(ctx, subtree(ctx, '<top xmlns="urn:other"><users/></top>')) == set()


def test_multiple_top_level_nodes(ctx):
    got = run(ctx, subtree(ctx, f'<top xmlns="{T}"><interfaces><interface><ifName>eth1</ifName></interface></interfaces></top>'
                                f'<bindings xmlns="{T}"><binding><mn-identifier>mn1@example.net</mn-identifier></binding></bindings>'))
    assert "/example-top:top/interfaces/interface[ifName='eth1']/ifInOctets=10" in got
    assert "/example-top:bindings/binding[mn-identifier='mn1@example.net']/lifetime=3600" in got
    assert len(got) == 5


def test_xpath_filter_with_prefixes_from_nsmap(ctx):
    elem = etree.fromstring(f'<filter xmlns="urn:ietf:params:xml:ns:netconf:base:1.0" xmlns:t="{T}" type="xpath" '
                            f'select="/t:top/t:users/t:user[t:name=\'fred\']/t:type"/>')
    assert run(ctx, Filter.from_element(elem, ctx)) == {f"{U}[name='fred']/name=fred", f"{U}[name='fred']/type=admin"}


def test_xpath_filter_selects_descendants_and_union(ctx):
    flt = Filter.from_xpath("/x:bindings/x:binding[x:lifetime > 100] | /x:top/x:interfaces/x:interface[x:ifName='eth1']/x:ifInErrors",
                            {"x": T}, ctx)
    assert run(ctx, flt) == {
        "/example-top:bindings/binding[mn-identifier='mn1@example.net']/mn-identifier=mn1@example.net",
        "/example-top:bindings/binding[mn-identifier='mn1@example.net']/lifetime=3600",
        "/example-top:top/interfaces/interface[ifName='eth1']/ifName=eth1",
        "/example-top:top/interfaces/interface[ifName='eth1']/ifInErrors=0",
    }


@pytest.mark.parametrize("expr, tag", [("/u:top", "invalid-value"), ("/t:top[", "invalid-value"), ("", "missing-attribute")])
def test_bad_xpath_is_a_typed_error(ctx, expr, tag):
    with pytest.raises(RequestError) as err:
        Filter.from_xpath(expr, {"t": T}, ctx).apply(tree(ctx))
    assert err.value.tag == tag


def test_xpath_filter_without_select_is_missing_attribute(ctx):
    elem = etree.fromstring('<filter type="xpath"/>')
    with pytest.raises(RequestError) as err:
        Filter.from_element(elem, ctx)
    assert (err.value.tag, err.value.error_type) == ("missing-attribute", "protocol")


def test_unknown_filter_type_is_bad_attribute(ctx):
    with pytest.raises(RequestError) as err:
        Filter.from_element(etree.fromstring('<filter type="regex"/>'), ctx)
    assert err.value.tag == "bad-attribute"


# ------------------------------------------------------------------ plans
B = "/example-top:bindings/binding"


def test_subtree_plan_has_keys_of_content_matched_entries(ctx):
    flt = subtree(ctx, f'<bindings xmlns="{T}"><binding><mn-identifier>mn1@example.net</mn-identifier></binding>'
                       f'<binding><mn-identifier>mn7@example.net</mn-identifier><lifetime/></binding></bindings>')
    assert flt.plan.keys(B) == [{"mn-identifier": "mn1@example.net"}, {"mn-identifier": "mn7@example.net"}]
    assert flt.plan.selects("/example-top:bindings")
    assert not flt.plan.selects("/example-top:top")
    assert flt.plan.top_level() == {("example-top", "bindings")}


def test_plan_without_key_match_wants_all_entries(ctx):
    flt = subtree(ctx, f'<bindings xmlns="{T}"><binding><lifetime>60</lifetime></binding></bindings>')
    assert flt.plan.keys(B) is None


def test_whole_subtree_plan_wants_everything_below(ctx):
    flt = subtree(ctx, f'<top xmlns="{T}"/>')
    assert flt.plan.selects("/example-top:top/users/user/company-info")
    assert flt.plan.keys("/example-top:top/users/user") is None
    assert Filter.none().plan == FilterPlan.everything()


def test_xpath_plan_has_keys_from_predicates(ctx):
    flt = Filter.from_xpath(f"/d:bindings/d:binding[d:mn-identifier='mn1@example.net']/d:lifetime", {"d": T}, ctx)
    assert flt.plan.keys(B) == [{"mn-identifier": "mn1@example.net"}]
    assert flt.plan.selects(f"{B}/lifetime")
    assert not flt.plan.selects("/example-top:top")


def test_xpath_plan_falls_back_to_everything_when_unsure(ctx):
    assert Filter.from_xpath("//d:binding", {"d": T}, ctx).plan.roots is None
    assert Filter.from_xpath("/d:bindings/*", {"d": T}, ctx).plan.keys(B) is None


def test_keyed_plan_on_a_large_list_builds_one_entry(ctx):
    """A provider answering from an index builds just the planned entries."""
    index = {f"mn{i}@example.net": i for i in range(1000)}
    flt = subtree(ctx, f'<bindings xmlns="{T}"><binding><mn-identifier>mn999@example.net</mn-identifier></binding></bindings>')
    keys = flt.plan.keys(B)
    assert keys is not None
    built = ctx.create_data_path("/example-top:bindings")
    for key in keys:
        mn = key["mn-identifier"]
        built.create_path(f"binding[mn-identifier='{mn}']/lifetime", str(index[mn]))
    assert leaves(flt.apply(built)) == {
        f"{B}[mn-identifier='mn999@example.net']/mn-identifier=mn999@example.net",
        f"{B}[mn-identifier='mn999@example.net']/lifetime=999",
    }


ALL_BINDING_LEAVES = {
    f"{B}[mn-identifier='mn1@example.net']/mn-identifier=mn1@example.net",
    f"{B}[mn-identifier='mn1@example.net']/lifetime=3600",
    f"{B}[mn-identifier='mn2@example.net']/mn-identifier=mn2@example.net",
    f"{B}[mn-identifier='mn2@example.net']/lifetime=60",
}
# filter -> does it select every binding whole (so a provider may print the list itself)?
WHOLE_CASES = [
    (lambda ctx: Filter.none(), True),
    (lambda ctx: subtree(ctx, f'<bindings xmlns="{T}"/>'), True),
    (lambda ctx: subtree(ctx, f'<bindings xmlns="{T}"><binding/></bindings>'), True),
    (lambda ctx: subtree(ctx, f'<bindings xmlns=""/>'), True),
    (lambda ctx: Filter.from_xpath("/d:bindings", {"d": T}, ctx), True),
    (lambda ctx: Filter.from_xpath("/d:bindings/d:binding | /d:top", {"d": T}, ctx), True),
    # picks among entries or their leaves
    (lambda ctx: subtree(ctx, f'<bindings xmlns="{T}"><binding><lifetime>60</lifetime></binding></bindings>'), False),
    (lambda ctx: subtree(ctx, f'<bindings xmlns="{T}"><binding><lifetime/></binding></bindings>'), False),
    (lambda ctx: subtree(ctx, f'<bindings xmlns="{T}"><binding><mn-identifier>mn1@example.net</mn-identifier>'
                              f'</binding></bindings>'), False),
    (lambda ctx: subtree(ctx, f'<bindings xmlns="{T}"/><bindings xmlns="{T}"><binding><lifetime>60</lifetime>'
                              f'</binding></bindings>'), False),
    (lambda ctx: subtree(ctx, f'<bindings xmlns="{T}"><binding xmlns:x="urn:x" x:a="1"/></bindings>'), False),
    (lambda ctx: subtree(ctx, f'<bindings xmlns="{T}">text</bindings>'), False),
    (lambda ctx: Filter.from_xpath("/d:bindings/d:binding[d:lifetime > 100]", {"d": T}, ctx), False),
    (lambda ctx: Filter.from_xpath("//d:binding", {"d": T}, ctx), False),
    (lambda ctx: Filter.from_xpath("/d:bindings/*", {"d": T}, ctx), False),
    # does not reach the list at all
    (lambda ctx: subtree(ctx, f'<top xmlns="{T}"/>'), False),
]


@pytest.mark.parametrize("make, whole", WHOLE_CASES)
def test_selects_whole_says_when_every_entry_is_selected_whole(ctx, make, whole):
    flt = make(ctx)
    assert flt.selects_whole(B) is whole
    if whole:  # what it promises, on real data: all the entries, complete
        assert ALL_BINDING_LEAVES <= run(ctx, flt)
