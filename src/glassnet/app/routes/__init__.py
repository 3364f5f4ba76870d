"""The app's HTTP routes, one router per view of the page.

| module | view | endpoints |
| --- | --- | --- |
| ``page`` | the page itself | ``/``, ``/api/health``, ``/api/session`` |
| ``train`` | Train | ``/api/network``, ``/api/train/*``, ``/api/lr-find`` |
| ``draw`` | Draw | ``/api/predict``, ``/api/neuron``, ``/api/edits`` |
| ``inside`` | Inside | ``/api/inside`` |
| ``evaluate`` | Evaluate | ``/api/evaluate``, ``/api/evaluate/*``, ``/api/descent`` |
| ``handwriting`` | My handwriting | ``/api/drawings``, ``/api/drawings/*`` |
| ``timetravel`` | Time travel | ``/api/timeline``, ``/api/timeline/*`` |
| ``models`` | Save and load | ``/api/models``, ``/api/models/*`` |
| ``plane`` | The plane | ``/api/plane``, ``/api/plane/*`` |

A route reads its request (pydantic checks the shape; ``deps.py`` the server's limits), calls one
method of the browser's workspace or one function of ``analysis.py``, and returns the answer. It
holds no lock and knows no status code but 200: a refusal is an exception of ``errors.py``, which the
server turns into a status in one place. A new view is one module here, added to :data:`ROUTERS`.
"""

from . import draw, evaluate, handwriting, inside, models, page, plane, timetravel, train

#: In the order the page's tabs show them (and the OpenAPI schema lists them).
ROUTERS = [page.router, train.router, draw.router, inside.router, evaluate.router, handwriting.router,
           timetravel.router, models.router, plane.router]
