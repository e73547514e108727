"""The SageMaker scikit-learn serving container, reproduced: gunicorn with gevent workers and a Flask app."""
