"""The file logged as the served model's ``python_model`` (MLflow "models from code").

MLflow runs this file when a consumer calls ``mlflow.pyfunc.load_model`` or ``mlflow models
serve``: it only hands MLflow the :class:`~forecaster.tracking.pyfunc_model.ForecasterModel` of the
INSTALLED ``forecaster`` package (the model pins ``forecaster==<version>``; no package copy is
logged). forecaster's own loaders never run it: they check that the logged copy is byte for byte
this file and load the saved forecaster as data (:func:`~forecaster.tracking.pyfunc_model.load_forecaster_from_uri`).
"""

import mlflow

from forecaster.tracking.pyfunc_model import ForecasterModel

mlflow.models.set_model(ForecasterModel())
