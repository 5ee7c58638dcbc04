"""scikit-learn's estimator checks on every public estimator, found by walking the package.

The instances and each class's expected failures are in ``tests/_instances.py``; a public
estimator without an entry there fails :func:`test_every_public_estimator_is_checked`.
"""

import inspect

import pytest
from _instances import INSTANCES, NOT_STRICT, XFAIL_CHECKS, expected_failures, strict
from sklearn.base import BaseEstimator
from sklearn.utils.estimator_checks import estimator_checks_generator


def public_estimators():
    """Every estimator class that a public module of skstack exports."""
    import skstack
    import skstack.auto
    import skstack.encoders
    import skstack.families

    found = set()
    for module in (skstack, skstack.auto, skstack.encoders, skstack.families):
        for name in module.__all__:
            value = getattr(module, name)
            if inspect.isclass(value) and issubclass(value, BaseEstimator):
                found.add(value)
    return found


def test_every_public_estimator_is_checked():
    missing = {cls.__name__ for cls in public_estimators()} - {c.__name__ for c in INSTANCES}
    assert not missing, f"add instances of {sorted(missing)} to tests/_instances.py"
    # An entry of expected failures for a class without instances would be dead text.
    assert set(XFAIL_CHECKS) | set(NOT_STRICT) <= set(INSTANCES)


def _check_params():
    for cls, instances in INSTANCES.items():
        for index, estimator in enumerate(instances):
            failures = expected_failures(estimator)
            for item in estimator_checks_generator(
                    estimator, legacy=True, expected_failed_checks=failures, mark="xfail",
                    xfail_strict=strict(estimator)):
                # An expected failure comes as a pytest.param holding its xfail mark.
                (est, check), marks = (item.values, item.marks) if hasattr(item, "marks") \
                    else (item, ())
                name = getattr(check, "func", check).__name__
                yield pytest.param(est, check, id=f"{cls.__name__}{index}-{name}",
                                   marks=marks)


@pytest.mark.parametrize(("estimator", "check"), list(_check_params()))
def test_sklearn_compatible(estimator, check):
    check(estimator)


@pytest.mark.parametrize("cls", sorted(public_estimators(), key=lambda cls: cls.__name__),
                         ids=lambda cls: cls.__name__)
def test_every_parameter_is_documented(cls):
    from numpydoc.docscrape import ClassDoc

    documented = [param.name.split(":")[0].strip() for param in ClassDoc(cls)["Parameters"]]
    # "a, b : type" documents both.
    documented = {name.strip() for entry in documented for name in entry.split(",")}
    parameters = set(cls._get_param_names())
    assert parameters <= documented, f"undocumented: {sorted(parameters - documented)}"
    assert documented <= parameters, f"documented but not parameters: " \
                                     f"{sorted(documented - parameters)}"
